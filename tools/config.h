#pragma once
// Experiment configs: a YAML file, checked against a schema before anything runs. Every key has a
// type, a default and a line of documentation (`morphtrain --help-config` prints them). Errors
// name file:line:column, the key, what was expected and what was found, and suggest the nearest
// known key for a misspelling.
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace mt::tools {

enum class KeyType { integer, number, boolean, string, number_list };

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
  // The resolved config as YAML text (every key, defaults included).
  std::string dump() const;

 private:
  void set(const KeySpec& spec, const YAML::Node& value, const std::string& where);
  std::map<std::string, YAML::Node> values_;
  std::string source_;
};

// Levenshtein distance, for "did you mean" hints.
size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace mt::tools
