#pragma once
// The model graph: named ops (nodes) joined by tensor edges (values). Parameters and buffers are
// values that own their tensor, named as in a PyTorch state_dict (`layer1.0.bn1.running_mean`).
// Nodes are appended in topological order (an input must exist before its consumer), so the node
// list is already a valid execution order. The executor runs it; morph reads it.
#include <map>
#include <string>
#include <vector>

#include "core/op.h"

namespace mt {

using ValueId = int;

enum class ValueKind : uint8_t { input, param, buffer, activation };

struct Value {
  std::string name;
  ValueKind kind = ValueKind::activation;
  DType dtype = DType::f32;
  // Inputs: the shape of one sample (the batch dimension is added when fed).
  // Params and buffers: the tensor's shape. Activations: unknown until planned.
  Shape shape;
  int producer = -1;           // node index, -1 for inputs, params, buffers
  std::vector<int> consumers;  // node indices, in graph order
  Tensor data;                 // params and buffers own their tensor here
};

struct Node {
  std::string name;
  OpPtr op;
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
};

class Graph {
 public:
  ValueId add_input(const std::string& name, const Shape& sample_shape, DType dtype = DType::f32);
  ValueId add_param(const std::string& name, Tensor init);
  ValueId add_buffer(const std::string& name, Tensor init);
  // Appends a node; its outputs are named `name` (and `name:1`, `name:2` for extra outputs).
  std::vector<ValueId> add_node(const std::string& name, OpPtr op, const std::vector<ValueId>& inputs);
  // The single-output case.
  ValueId add(const std::string& name, OpPtr op, const std::vector<ValueId>& inputs) {
    return add_node(name, std::move(op), inputs).front();
  }
  void mark_output(ValueId v) { outputs_.push_back(v); }

  const std::vector<Node>& nodes() const { return nodes_; }
  const Node& node(int i) const { return nodes_.at(i); }
  const Value& value(ValueId v) const { return values_.at(v); }
  Value& value(ValueId v) { return values_.at(v); }
  int num_values() const { return static_cast<int>(values_.size()); }
  const std::vector<ValueId>& inputs() const { return inputs_; }
  const std::vector<ValueId>& outputs() const { return outputs_; }
  const std::vector<ValueId>& params() const { return params_; }
  const std::vector<ValueId>& buffers() const { return buffers_; }

  // -1 when absent.
  ValueId find(const std::string& name) const;
  // Throws naming the value when absent.
  ValueId at(const std::string& name) const;
  int find_node(const std::string& name) const;
  int producer(ValueId v) const { return values_.at(v).producer; }
  const std::vector<int>& consumers(ValueId v) const { return values_.at(v).consumers; }

  // Every param and buffer in creation order, as PyTorch lists a module's state_dict (a layer's
  // weight and bias, then its buffers).
  std::vector<std::pair<std::string, Tensor>> state_dict() const;
  int64_t num_parameters() const;

 private:
  ValueId add_value(Value v);

  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<ValueId> inputs_, outputs_, params_, buffers_, state_order_;
  std::map<std::string, ValueId> by_name_;
  std::map<std::string, int> node_by_name_;
};

// The shape of every value when the inputs carry a batch of `batch` samples (params and buffers:
// their own shapes). Shape errors name the node.
std::vector<Shape> infer_value_shapes(const Graph& graph, int64_t batch);

}  // namespace mt
