#include "core/state_dict.h"

#include <map>
#include <set>

namespace mt {

void load_state_dict(Graph& graph, const NamedTensors& tensors, bool strict) {
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : tensors) given[name] = &t;
  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> known;
  for (const auto& [name, t] : graph.state_dict()) {
    known.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      missing.push_back(name);
    } else if (it->second->shape() != t.shape() ||
               (it->second->dtype() == DType::i64) != (t.dtype() == DType::i64)) {
      mismatched.push_back(name + ": checkpoint " + it->second->shape().str() + " " +
                           std::string(dtype_name(it->second->dtype())) + ", model " + t.shape().str() +
                           " " + std::string(dtype_name(t.dtype())));
    }
  }
  for (const auto& [name, t] : tensors)
    if (!known.count(name)) unexpected.push_back(name);
  std::string report;
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    report += std::string("\n  ") + what + ":";
    for (const auto& n : names) report += "\n    " + n;
  };
  if (strict) {
    list("Missing key(s)", missing);
    list("Unexpected key(s)", unexpected);
  }
  list("Size mismatch for", mismatched);
  MT_CHECK(report.empty(), ShapeError, "error(s) loading the state dict:", report);
  for (ValueId v : graph.params())
    if (given.count(graph.value(v).name)) graph.value(v).data.copy_from(*given[graph.value(v).name]);
  for (ValueId v : graph.buffers())
    if (given.count(graph.value(v).name)) graph.value(v).data.copy_from(*given[graph.value(v).name]);
}

}  // namespace mt
