#pragma once
// Experiment configs: a YAML file, checked against a schema before anything runs. Every key has a
// type, a default and a line of documentation (`morphtrain --help-config` prints them). Errors
// name file:line:column, the key, what was expected and what was found, and suggest the nearest
// known key for a misspelling.
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/edit_distance.h"
#include "tools/settings.h"

namespace mt::tools {

enum class KeyType { integer, number, boolean, string, number_list, graph, size2d };

struct KeySpec {
  std::string path;       // "optim.lr"
  KeyType type;
  std::string fallback;   // the default, as YAML text
  std::string doc;
  std::vector<std::string> choices;  // strings only; empty = any
  double min = -1e300, max = 1e300;  // numbers only
};

const std::vector<KeySpec>& config_schema();

class Config {
 public:
  // Reads and validates `path`, then applies `overrides` ("key.path=value", YAML scalars or flow
  // lists). Throws ConfigError.
  static Config load(const std::string& path, const std::vector<std::string>& overrides = {});
  static Config defaults();

  int64_t integer(const std::string& key) const;
  double number(const std::string& key) const;
  bool boolean(const std::string& key) const;
  const std::string& string(const std::string& key) const;
  std::vector<double> numbers(const std::string& key) const;
  // A size2d key: one integer for both sides, or [height, width].
  std::pair<int64_t, int64_t> size2d(const std::string& key) const;
  // A graph key's YAML as given: a path (a scalar) or the layer list itself.
  const YAML::Node& yaml(const std::string& key) const { return node(key); }
  // The config file (or "<defaults>"): what messages about its inline values name.
  const std::string& source() const { return source_; }
  // The resolved config as YAML text (every key, defaults included).
  std::string dump() const;
  // Every key, typed (tools/settings.h): what the rest of tools/ reads.
  const Settings& settings() const { return settings_; }
  // The keys read so far (tests: read_settings reads every key of the schema).
  const std::set<std::string>& keys_read() const { return read_; }

 private:
  void set(const KeySpec& spec, const YAML::Node& value, const std::string& where);
  const YAML::Node& node(const std::string& key) const;
  std::map<std::string, YAML::Node> values_;
  std::string source_;
  Settings settings_;
  mutable std::set<std::string> read_;
};

// The one edit distance of the tree (core/edit_distance.h), for "did you mean" hints.
using mt::edit_distance;

}  // namespace mt::tools
