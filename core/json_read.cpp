#include "core/json_read.h"

#include <fstream>
#include <sstream>

namespace mt {

namespace {
constexpr size_t kMaxDescribed = 60;
struct TooDeep {};
}  // namespace

std::optional<nlohmann::json> try_parse_json(std::string_view text, std::string& why, int max_depth) {
  using Event = nlohmann::json::parse_event_t;
  // `depth` counts the containers around the one that starts: 0 for the outermost.
  auto bound = [max_depth](int depth, Event event, nlohmann::json&) {
    if ((event == Event::object_start || event == Event::array_start) && depth >= max_depth) throw TooDeep{};
    return true;
  };
  try {
    return nlohmann::json::parse(text, bound);
  } catch (const TooDeep&) {
    why = "JSON nested deeper than " + std::to_string(max_depth) + " levels";
  } catch (const nlohmann::json::exception& e) {
    why = e.what();
  }
  return std::nullopt;
}

std::optional<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

std::string describe_json(const nlohmann::json& value) {
  if (value.is_array()) return "an array of " + std::to_string(value.size()) + " elements";
  if (value.is_object()) return "an object of " + std::to_string(value.size()) + " keys";
  // A scalar's dump does not recurse; a long string is cut so the message stays readable.
  std::string text = value.dump();
  if (text.size() > kMaxDescribed) text = text.substr(0, kMaxDescribed) + "...";
  return text;
}

}  // namespace mt
