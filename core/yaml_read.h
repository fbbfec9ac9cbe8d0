#pragma once
// YAML that comes from outside the process: the experiment config and the YAML graph files a user
// writes (core/json_read.h is the same for JSON).
//
// yaml-cpp keeps every pair of a mapping, a key given twice included, and a lookup then takes one
// of them without a word; its recursive parser stops at 500 levels with the bare message "bad
// file"; and an alias may stand for a large subtree, so a short file can expand to billions of
// nodes for any reader that walks it (YAML::Clone, an emitter). So every document is checked once
// as it is loaded, and what passes is small, shallow and free of duplicate keys.
#include <cstddef>
#include <string>

#include <yaml-cpp/yaml.h>

namespace mt {

// Deeper than anything a config or a graph nests (a layer's `inputs` list sits 5 levels down),
// shallower than yaml-cpp's own bound.
constexpr int kMaxYamlDepth = 64;
// Nodes of a document with its aliases expanded: a graph of thousands of layers stays far below.
constexpr size_t kMaxYamlNodes = 1'000'000;

// Loads the YAML file at `path`. Throws ConfigError starting "path:line:column: " when the file is
// malformed, nested deeper than kMaxYamlDepth, larger than kMaxYamlNodes nodes or gives a key twice
// in one mapping (naming both places), and "path: cannot read the <what>" when it cannot be read.
YAML::Node load_yaml_file(const std::string& path, const std::string& what);

// The same for `text` read from elsewhere (a command-line value); `source` prefixes messages.
YAML::Node parse_yaml(const std::string& text, const std::string& source);

// "source:line:column" (1-based), or just `source` for a node not parsed from text.
std::string yaml_where(const std::string& source, const YAML::Mark& mark);

// A value for an error message: a scalar as written (cut to about 60 characters), a list or mapping
// by its size, never its contents.
std::string describe_yaml(const YAML::Node& value);

}  // namespace mt
