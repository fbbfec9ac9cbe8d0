#include "core/yaml_read.h"

#include <map>

#include <yaml-cpp/depthguard.h>

#include "core/error.h"

namespace mt {

namespace {
constexpr size_t kMaxDescribed = 60;

// One walk over a parsed document, through its aliases (they may make it a cycle: `&a [*a]`).
class YamlCheck {
 public:
  explicit YamlCheck(const std::string& source) : source_(source) {}

  void node(const YAML::Node& n, const std::string& path, int depth) {
    MT_CHECK(++nodes_ <= kMaxYamlNodes, ConfigError, yaml_where(source_, n.Mark()),
             ": YAML document larger than ", kMaxYamlNodes, " nodes (an alias counts its whole value ",
             "at each use)");
    if (!n.IsMap() && !n.IsSequence()) return;
    MT_CHECK(depth < kMaxYamlDepth, ConfigError, yaml_where(source_, n.Mark()), ": YAML nested deeper than ",
             kMaxYamlDepth, " levels");
    if (n.IsSequence()) {
      size_t i = 0;
      for (const YAML::Node& item : n) node(item, path + "[" + std::to_string(i++) + "]", depth + 1);
      return;
    }
    std::map<std::string, YAML::Mark> seen;
    for (const auto& kv : n) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
      const std::string at = path.empty() ? key : path + "." + key;
      if (kv.first.IsScalar()) duplicate(seen, key, at, kv.first.Mark());
      node(kv.first, at, depth + 1);
      node(kv.second, at, depth + 1);
    }
  }

 private:
  // Names the second place; the first is where the key was seen before in the same mapping.
  void duplicate(std::map<std::string, YAML::Mark>& seen, const std::string& key, const std::string& path,
                 const YAML::Mark& mark) const {
    const auto [first, fresh] = seen.emplace(key, mark);
    if (fresh) return;
    const YAML::Mark& a = first->second;
    const std::string places =
        a.line == mark.line
            ? "on line " + std::to_string(a.line + 1) + ", columns " + std::to_string(a.column + 1) + " and " +
                  std::to_string(mark.column + 1)
            : "at lines " + std::to_string(a.line + 1) + " and " + std::to_string(mark.line + 1);
    MT_FAIL(ConfigError, yaml_where(source_, mark), ": key '", path, "' is given twice, ", places,
            "; hint: keep one of them");
  }

  const std::string& source_;
  size_t nodes_ = 0;
};

template <typename Parse>
YAML::Node parse_checked(const std::string& source, Parse parse) {
  YAML::Node doc;
  try {
    doc = parse();
  } catch (const YAML::DeepRecursion& e) {  // yaml-cpp's own bound on its recursive parser
    MT_FAIL(ConfigError, yaml_where(source, e.mark), ": YAML nested deeper than ", e.depth(), " levels");
  } catch (const YAML::ParserException& e) {
    MT_FAIL(ConfigError, yaml_where(source, e.mark), ": YAML syntax error: ", e.msg);
  }
  YamlCheck(source).node(doc, "", 0);
  return doc;
}
}  // namespace

YAML::Node load_yaml_file(const std::string& path, const std::string& what) {
  return parse_checked(path, [&] {
    try {
      return YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
      MT_FAIL(ConfigError, path, ": cannot read the ", what);
    }
  });
}

YAML::Node parse_yaml(const std::string& text, const std::string& source) {
  return parse_checked(source, [&] { return YAML::Load(text); });
}

std::string yaml_where(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return source;
  return source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

std::string describe_yaml(const YAML::Node& value) {
  if (value.IsSequence()) return "a list of " + std::to_string(value.size()) + " items";
  if (value.IsMap()) return "a mapping of " + std::to_string(value.size()) + " keys";
  if (!value.IsScalar()) return "nothing";
  const std::string& text = value.Scalar();
  return text.size() > kMaxDescribed ? text.substr(0, kMaxDescribed) + "..." : text;
}

}  // namespace mt
