#include "core/state_dict.h"

#include <map>
#include <set>

namespace mt {

StateDictMatch match_state_dict(const Graph& graph, const NamedTensors& tensors) {
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : tensors) given[name] = &t;
  StateDictMatch m;
  std::set<std::string> known;
  for (const auto& [name, t] : graph.state_dict()) {
    known.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      m.missing.push_back(name);
    } else if (it->second->shape() != t.shape() ||
               (it->second->dtype() == DType::i64) != (t.dtype() == DType::i64)) {
      m.mismatched.push_back(name + ": checkpoint " + it->second->shape().str() + " " +
                             std::string(dtype_name(it->second->dtype())) + ", model " + t.shape().str() + " " +
                             std::string(dtype_name(t.dtype())));
    } else {
      m.matched.push_back(name);
    }
  }
  for (const auto& [name, t] : tensors)
    if (!known.count(name)) m.unexpected.push_back(name);
  return m;
}

std::string state_dict_report(const StateDictMatch& match, bool strict) {
  std::string report;
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    report += std::string("\n  ") + what + ":";
    for (const auto& n : names) report += "\n    " + n;
  };
  if (strict) {
    list("Missing key(s)", match.missing);
    list("Unexpected key(s)", match.unexpected);
  }
  list("Size mismatch for", match.mismatched);
  return report;
}

void load_matched(Graph& graph, const NamedTensors& tensors, const StateDictMatch& match) {
  const std::set<std::string> wanted(match.matched.begin(), match.matched.end());
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : tensors)
    if (wanted.count(name)) given[name] = &t;
  for (const std::vector<ValueId>* values : {&graph.params(), &graph.buffers()})
    for (ValueId v : *values) {
      auto it = given.find(graph.value(v).name);
      if (it != given.end()) graph.value(v).data.copy_from(*it->second);
    }
}

void load_state_dict(Graph& graph, const NamedTensors& tensors, bool strict) {
  const StateDictMatch match = match_state_dict(graph, tensors);
  const std::string report = state_dict_report(match, strict);
  MT_CHECK(report.empty(), ShapeError, "error(s) loading the state dict:", report);
  load_matched(graph, tensors, match);
}

}  // namespace mt
