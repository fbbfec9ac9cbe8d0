#pragma once
// JSON that comes from outside the process: files a user edits, or a crash or a flipped bit
// mangles (structure files, trainer_state.json, hardware tables, metrics lines).
//
// nlohmann parses and destroys any depth without recursion, but dump() and every reader that
// walks a value recurse once per level: a file nested 100000 levels deep overflows the stack in the
// error message meant to reject it. So depth is bounded while parsing, and messages describe a
// value in a few words instead of serialising it whole.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace mt {

// Deeper than anything morphtrain writes (a structure file nests 4 levels), far shallower than
// what a default stack survives.
constexpr int kMaxJsonDepth = 64;

// Parses `text`, or returns nullopt with the reason in `why` (malformed, or nested deeper than
// `max_depth` objects and arrays).
std::optional<nlohmann::json> try_parse_json(std::string_view text, std::string& why,
                                             int max_depth = kMaxJsonDepth);

// The whole of a file as text, or nullopt when it cannot be opened or read.
std::optional<std::string> read_text_file(const std::string& path);

// A value for an error message: a scalar as JSON, cut to about 60 characters; an array or object
// by its type and size ("an object of 3 keys"), never its contents.
std::string describe_json(const nlohmann::json& value);

}  // namespace mt
