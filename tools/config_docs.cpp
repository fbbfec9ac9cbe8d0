#include "tools/config_docs.h"

#include "tools/config.h"

namespace mt::tools {

namespace {
const char* type_label(KeyType t) {
  switch (t) {
    case KeyType::integer: return "integer";
    case KeyType::number: return "number";
    case KeyType::boolean: return "boolean";
    case KeyType::string: return "string";
    case KeyType::number_list: return "list of numbers";
    case KeyType::graph: return "path or layer list";
    case KeyType::size2d: return "integer or [height, width]";
  }
  return "?";
}

std::string range(const KeySpec& k) {
  if (!k.choices.empty()) {
    std::string s;
    for (const auto& c : k.choices) s += (s.empty() ? "" : ", ") + ("`" + c + "`");
    return s;
  }
  if (k.type != KeyType::integer && k.type != KeyType::number) return "";
  auto num = [&](double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  };
  const bool lo = k.min > -1e299, hi = k.max < 1e299;
  if (lo && hi) return "[" + num(k.min) + ", " + num(k.max) + "]";
  if (lo) return ">= " + num(k.min);
  if (hi) return "<= " + num(k.max);
  return "";
}
}  // namespace

std::string config_reference_markdown() {
  std::string out =
      "# Config reference\n\n"
      "Generated from the schema in `tools/config_schema.cpp` (`morphtrain --help-config "
      "--markdown`); a test keeps this file in sync. Keys nest in YAML (`optim: {lr: 0.1}`) and "
      "are overridden on the command line with `--set optim.lr=0.1`. Unknown keys, wrong types and "
      "values out of range stop the run with exit code 2 before anything is written.\n\n"
      "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
  for (const KeySpec& k : config_schema())
    out += "| `" + k.path + "` | " + type_label(k.type) + " | `" + k.fallback + "` | " + range(k) +
           " | " + k.doc + " |\n";
  return out;
}

}  // namespace mt::tools
