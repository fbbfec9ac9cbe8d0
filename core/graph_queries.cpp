#include "core/graph_queries.h"

namespace mt {

bool is_activation_value(const Graph& g, ValueId v) {
  const ValueKind k = g.value(v).kind;
  return k == ValueKind::activation || k == ValueKind::input;
}

std::vector<bool> nodes_feeding(const Graph& g, ValueId output) {
  std::vector<bool> seen(g.nodes().size(), false);
  std::vector<ValueId> stack{output};
  while (!stack.empty()) {
    const int p = g.producer(stack.back());
    stack.pop_back();
    if (p < 0 || seen[p]) continue;
    seen[p] = true;
    for (ValueId in : g.node(p).inputs) stack.push_back(in);
  }
  return seen;
}

std::vector<int> nodes_behind(const Graph& g, ValueId output) {
  const std::vector<bool> seen = nodes_feeding(g, output);
  std::vector<int> nodes;
  for (size_t i = 0; i < seen.size(); ++i)
    if (seen[i]) nodes.push_back(static_cast<int>(i));
  return nodes;
}

ValueId input_of(const Graph& g, int node, InputRole role) {
  const Node& n = g.node(node);
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (n.op->input_role(i) == role) return n.inputs[i];
  return -1;
}

ValueId required_input(const Graph& g, int node, InputRole role) {
  const ValueId v = input_of(g, node, role);
  MT_CHECK(v >= 0, ShapeError, "op '", g.node(node).name, "' (", g.node(node).op->kind_name(),
           ") has no input of role ", static_cast<int>(role));
  return v;
}

int only_reader(const Graph& g, ValueId v) {
  const std::vector<int>& readers = g.consumers(v);
  return readers.size() == 1 ? readers.front() : -1;
}

int batchnorm_reading(const Graph& g, ValueId v) {
  const int reader = only_reader(g, v);
  if (reader < 0) return -1;
  const Node& n = g.node(reader);
  return n.op->kind() == OpKind::batchnorm2d && n.inputs[0] == v ? reader : -1;
}

}  // namespace mt
