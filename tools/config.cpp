#include "tools/config.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/yaml_read.h"

namespace mt::tools {

namespace {
const KeySpec* find_spec(const std::string& path) {
  for (const KeySpec& s : config_schema())
    if (s.path == path) return &s;
  return nullptr;
}

std::string suggestion(const std::string& path) {
  const KeySpec* best = nullptr;
  size_t best_d = 3;  // only near misses
  for (const KeySpec& s : config_schema()) {
    const size_t d = edit_distance(path, s.path);
    if (d < best_d) best_d = d, best = &s;
  }
  // A right leaf under a wrong section ("optimizer.lr") is a near miss too.
  if (!best) {
    const std::string leaf = path.substr(path.rfind('.') + 1);
    for (const KeySpec& s : config_schema())
      if (s.path.substr(s.path.rfind('.') + 1) == leaf) best = &s;
  }
  return best ? " (did you mean '" + best->path + "'?)" : "";
}

const char* type_name(KeyType t) {
  switch (t) {
    case KeyType::integer: return "an integer";
    case KeyType::number: return "a number";
    case KeyType::boolean: return "true or false";
    case KeyType::string: return "a string";
    case KeyType::number_list: return "a list of numbers";
    case KeyType::graph: return "a YAML graph file's path or a list of layers";
    case KeyType::size2d: return "an integer or [height, width]";
  }
  return "?";
}

// Whether `v` lies in [lo, hi]. Written so that NaN, which fails every comparison, is outside.
bool in_range(double v, double lo, double hi) { return v >= lo && v <= hi; }

// Flattens nested maps into dotted paths, keeping each leaf's node (and so its mark). A key given
// twice was refused when the file was loaded (core/yaml_read.h).
void flatten(const YAML::Node& node, const std::string& prefix, const std::string& source,
             std::vector<std::pair<std::string, YAML::Node>>& out) {
  for (const auto& kv : node) {
    MT_CHECK(kv.first.IsScalar(), ConfigError, yaml_where(source, kv.first.Mark()),
             ": a key must be a plain name, found ", describe_yaml(kv.first));
    const std::string key = kv.first.Scalar();
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (kv.second.IsMap() && !find_spec(path)) {
      flatten(kv.second, path, source, out);
      continue;
    }
    MT_CHECK(find_spec(path), ConfigError, yaml_where(source, kv.first.Mark()), ": unknown key '", path,
             "'", suggestion(path));
    out.emplace_back(path, kv.second);
  }
}
}  // namespace

void Config::set(const KeySpec& spec, const YAML::Node& value, const std::string& at) {
  auto bad = [&](const std::string& why) {
    MT_FAIL(ConfigError, at, ": key '", spec.path, "' expects ", type_name(spec.type), why,
            ", found '", describe_yaml(value), "'");
  };
  try {
    switch (spec.type) {
      case KeyType::integer: {
        if (!value.IsScalar()) bad("");
        const double v = value.as<int64_t>();
        if (!in_range(v, spec.min, spec.max))
          bad(" in [" + std::to_string(static_cast<int64_t>(spec.min)) + ", " +
              (spec.max > 1e18 ? std::string("inf") : std::to_string(static_cast<int64_t>(spec.max))) + "]");
        break;
      }
      case KeyType::number: {
        if (!value.IsScalar()) bad("");
        const double v = value.as<double>();
        if (!in_range(v, spec.min, spec.max)) {
          std::ostringstream range;
          range << " in [" << spec.min << ", " << spec.max << "]";
          bad(range.str());
        }
        break;
      }
      case KeyType::boolean:
        if (!value.IsScalar()) bad("");
        value.as<bool>();
        break;
      case KeyType::string:
        if (!value.IsScalar()) bad("");
        if (!spec.choices.empty() &&
            std::find(spec.choices.begin(), spec.choices.end(), value.Scalar()) == spec.choices.end()) {
          std::string list;
          for (const auto& c : spec.choices) list += (list.empty() ? "" : ", ") + c;
          bad(" (one of: " + list + ")");
        }
        break;
      case KeyType::number_list:
        if (!value.IsSequence()) bad("");
        for (const auto& item : value)
          if (!std::isfinite(item.as<double>())) bad(" (finite)");
        break;
      case KeyType::size2d: {
        if (!value.IsScalar() && !(value.IsSequence() && value.size() == 2)) bad("");
        for (const YAML::Node& side : value.IsScalar() ? std::vector<YAML::Node>{value}
                                                        : std::vector<YAML::Node>{value[0], value[1]})
          if (!side.IsScalar() || !in_range(static_cast<double>(side.as<int64_t>()), spec.min, spec.max))
            bad(" with sides in [" + std::to_string(static_cast<int64_t>(spec.min)) + ", " +
                std::to_string(static_cast<int64_t>(spec.max)) + "]");
        break;
      }
      case KeyType::graph:  // its layers are checked where the graph is built, naming file:line
        if (!value.IsScalar() && !value.IsSequence() && !value.IsMap()) bad("");
        break;
    }
  } catch (const YAML::BadConversion&) {
    bad("");
  }
  // A graph keeps its nodes (a clone would lose their marks): its layers' errors name file:line.
  values_[spec.path] = spec.type == KeyType::graph ? value : YAML::Clone(value);
}

Config Config::defaults() {
  Config c;
  c.source_ = "<defaults>";
  for (const KeySpec& s : config_schema()) c.values_[s.path] = YAML::Load(s.fallback);
  c.settings_ = read_settings(c);
  return c;
}

Config Config::load(const std::string& path, const std::vector<std::string>& overrides) {
  Config c = defaults();
  c.source_ = path;
  const YAML::Node root = load_yaml_file(path, "config file");
  if (!root.IsNull()) {
    MT_CHECK(root.IsMap(), ConfigError, path, ": the config must be a mapping of keys");
    std::vector<std::pair<std::string, YAML::Node>> leaves;
    flatten(root, "", path, leaves);
    for (const auto& [key, node] : leaves) c.set(*find_spec(key), node, yaml_where(path, node.Mark()));
  }
  for (const std::string& o : overrides) {
    const size_t eq = o.find('=');
    MT_CHECK(eq != std::string::npos && eq > 0, ConfigError, "--set '", o,
             "': expected key.path=value");
    const std::string key = o.substr(0, eq);
    const KeySpec* spec = find_spec(key);
    MT_CHECK(spec, ConfigError, "--set: unknown key '", key, "'", suggestion(key));
    c.set(*spec, parse_yaml(o.substr(eq + 1), "--set " + key), "--set " + key);
  }
  c.settings_ = read_settings(c);
  return c;
}

const YAML::Node& Config::node(const std::string& key) const {
  read_.insert(key);
  return values_.at(key);
}

int64_t Config::integer(const std::string& key) const { return node(key).as<int64_t>(); }
double Config::number(const std::string& key) const { return node(key).as<double>(); }
bool Config::boolean(const std::string& key) const { return node(key).as<bool>(); }
const std::string& Config::string(const std::string& key) const { return node(key).Scalar(); }
std::vector<double> Config::numbers(const std::string& key) const {
  std::vector<double> out;
  for (const auto& v : node(key)) out.push_back(v.as<double>());
  return out;
}

std::pair<int64_t, int64_t> Config::size2d(const std::string& key) const {
  const YAML::Node& v = node(key);
  if (v.IsScalar()) return {v.as<int64_t>(), v.as<int64_t>()};
  return {v[0].as<int64_t>(), v[1].as<int64_t>()};
}

std::string Config::dump() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string section;
  for (const KeySpec& s : config_schema()) {
    const size_t dot = s.path.find('.');
    const std::string sec = dot == std::string::npos ? "" : s.path.substr(0, dot);
    if (sec != section) {
      if (!section.empty()) out << YAML::EndMap;
      if (!sec.empty()) out << YAML::Key << sec << YAML::Value << YAML::BeginMap;
      section = sec;
    }
    out << YAML::Key << s.path.substr(dot == std::string::npos ? 0 : dot + 1) << YAML::Value;
    const YAML::Node& v = values_.at(s.path);
    if (v.IsSequence()) out << YAML::Flow;
    out << v;
  }
  if (!section.empty()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace mt::tools
