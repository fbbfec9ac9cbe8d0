#include "core/graph.h"

namespace mt {

ValueId Graph::add_value(Value v) {
  MT_CHECK(!v.name.empty(), ShapeError, "graph values need a name");
  MT_CHECK(!by_name_.count(v.name), ShapeError, "duplicate name '", v.name, "' in the graph");
  const ValueId id = static_cast<ValueId>(values_.size());
  by_name_[v.name] = id;
  values_.push_back(std::move(v));
  return id;
}

ValueId Graph::add_input(const std::string& name, const Shape& sample_shape, DType dtype) {
  Value v;
  v.name = name;
  v.kind = ValueKind::input;
  v.dtype = dtype;
  v.shape = sample_shape;
  const ValueId id = add_value(std::move(v));
  inputs_.push_back(id);
  return id;
}

ValueId Graph::add_param(const std::string& name, Tensor init) {
  Value v;
  v.name = name;
  v.kind = ValueKind::param;
  v.dtype = init.dtype();
  v.shape = init.shape();
  v.data = std::move(init);
  const ValueId id = add_value(std::move(v));
  params_.push_back(id);
  state_order_.push_back(id);
  return id;
}

ValueId Graph::add_buffer(const std::string& name, Tensor init) {
  Value v;
  v.name = name;
  v.kind = ValueKind::buffer;
  v.dtype = init.dtype();
  v.shape = init.shape();
  v.data = std::move(init);
  const ValueId id = add_value(std::move(v));
  buffers_.push_back(id);
  state_order_.push_back(id);
  return id;
}

std::vector<ValueId> Graph::add_node(const std::string& name, OpPtr op,
                                     const std::vector<ValueId>& inputs) {
  MT_CHECK(op, ShapeError, "node '", name, "' has no op");
  MT_CHECK(!node_by_name_.count(name), ShapeError, "duplicate node name '", name, "'");
  const int index = static_cast<int>(nodes_.size());
  for (ValueId in : inputs)
    MT_CHECK(in >= 0 && in < num_values(), ShapeError, "node '", name, "' reads an unknown value ",
             in);
  Node node{name, std::move(op), inputs, {}};
  for (int i = 0; i < node.op->num_outputs(); ++i) {
    Value v;
    v.name = i == 0 ? name : name + ":" + std::to_string(i);
    v.producer = index;
    node.outputs.push_back(add_value(std::move(v)));
  }
  for (ValueId in : inputs) {
    auto& c = values_[in].consumers;
    if (c.empty() || c.back() != index) c.push_back(index);
  }
  node_by_name_[name] = index;
  nodes_.push_back(std::move(node));
  return nodes_.back().outputs;
}

ValueId Graph::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

ValueId Graph::at(const std::string& name) const {
  const ValueId v = find(name);
  MT_CHECK(v >= 0, ShapeError, "the graph has no value named '", name, "'");
  return v;
}

int Graph::find_node(const std::string& name) const {
  auto it = node_by_name_.find(name);
  return it == node_by_name_.end() ? -1 : it->second;
}

std::vector<std::pair<std::string, Tensor>> Graph::state_dict() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (ValueId v : state_order_) out.emplace_back(values_[v].name, values_[v].data);
  return out;
}

int64_t Graph::num_parameters() const {
  int64_t n = 0;
  for (ValueId v : params_) n += values_[v].data.numel();
  return n;
}

std::vector<Shape> infer_value_shapes(const Graph& graph, int64_t batch) {
  std::vector<Shape> shapes(graph.num_values());
  for (ValueId in : graph.inputs()) {
    std::vector<int64_t> dims{batch};
    for (int64_t d : graph.value(in).shape.dims()) dims.push_back(d);
    shapes[in] = Shape(dims);
  }
  for (ValueId v : graph.params()) shapes[v] = graph.value(v).shape;
  for (ValueId v : graph.buffers()) shapes[v] = graph.value(v).shape;
  for (const Node& node : graph.nodes()) {
    std::vector<Shape> in;
    for (ValueId v : node.inputs) in.push_back(shapes[v]);
    std::vector<Shape> out;
    try {
      out = node.op->infer_shapes(in);
    } catch (const ShapeError& e) {
      throw ShapeError("node '" + node.name + "' (" + node.op->kind_name() + "): " + e.what());
    }
    for (size_t o = 0; o < node.outputs.size(); ++o) shapes[node.outputs[o]] = out[o];
  }
  return shapes;
}

}  // namespace mt
