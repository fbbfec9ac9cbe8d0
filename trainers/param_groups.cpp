#include "trainers/param_groups.h"

#include <memory>
#include <set>

namespace mt {

std::vector<ParamRef> graph_params(Graph& graph, const Executor& executor) {
  std::vector<ParamRef> out;
  for (ValueId v : graph.params()) {
    Value& value = graph.value(v);
    out.push_back({value.name, &value.data, &executor.grad(v)});
  }
  return out;
}

// Iterative glob with single-star backtracking: linear in practice, no recursion.
bool glob_match(std::string_view pattern, std::string_view name) {
  size_t p = 0, n = 0;
  size_t star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

ParamPredicate name_matches(std::vector<std::string> patterns) {
  return [patterns = std::move(patterns)](const std::string& name) {
    for (const std::string& pattern : patterns)
      if (glob_match(pattern, name)) return true;
    return false;
  };
}

ParamPredicate bias_and_norm_params(const Graph& graph) {
  auto norm = std::make_shared<std::set<std::string>>();
  for (const Node& node : graph.nodes()) {
    if (node.op->kind() != OpKind::batchnorm2d) continue;
    for (ValueId v : node.inputs)
      if (graph.value(v).kind == ValueKind::param) norm->insert(graph.value(v).name);
  }
  return [norm](const std::string& name) {
    return glob_match("*.bias", name) || name == "bias" || norm->count(name) > 0;
  };
}

}  // namespace mt
