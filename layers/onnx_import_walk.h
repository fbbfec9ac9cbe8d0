#pragma once
// Internals of ONNX import (onnx_import.cpp walks the file's nodes in order, onnx_import_ops.cpp
// builds each op): the values seen so far, the constants folded, and how errors are reported.
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "core/error.h"
#include "layers/builder.h"

namespace mt::layers {

struct ModelOptions;

// A constant of the file (an initializer, a Constant node, or an Identity of one), read as doubles
// for folding; `proto` keeps the exact values for weights.
struct OnnxConstant {
  std::vector<int64_t> dims;
  std::vector<double> values;
  const onnx::TensorProto* proto = nullptr;
};

// A Pad node's zero padding on H and W, waiting for the Conv or AveragePool that reads it.
struct PendingPad {
  Size2d padding;
};

class OnnxWalk {
 public:
  OnnxWalk(const onnx::ModelProto& model, std::string source, ModelBuilder& b, const ModelOptions& o);

  // Builds every node from `images` and returns the logits.
  ValueId run(ValueId images);
  // Where the network was imported as written, every value's shape must equal ONNX's inference:
  // a disagreement (a ceil mode, a padding read wrongly) is reported at its node, not as logits.
  void compare_with_onnx() const;

  // --- for the op builders ---
  ModelBuilder& b;
  const ModelOptions& options;

  [[noreturn]] void fail(const onnx::NodeProto& n, const std::string& message) const;

  // Input i of n: an activation (a value of the graph being built) or a constant.
  bool is_constant(const onnx::NodeProto& n, size_t i) const;
  bool has_input(const onnx::NodeProto& n, size_t i) const;
  ValueId activation(const onnx::NodeProto& n, size_t i);
  const OnnxConstant& constant(const onnx::NodeProto& n, size_t i) const;
  // A Pad folded into the Conv or AveragePool reading input i (zero when there is none).
  Size2d take_pad(const onnx::NodeProto& n, size_t i);

  void define(const std::string& onnx_name, ValueId v) { values_[onnx_name] = v; }
  void define_constant(const std::string& onnx_name, OnnxConstant c) { constants_[onnx_name] = std::move(c); }
  void define_pad(const onnx::NodeProto& n, ValueId v, Size2d padding);
  // Output 0 of n is what input i of n is (Identity, Dropout in eval, a zero Pad).
  void alias(const onnx::NodeProto& n, size_t i);

  // Attributes, with ONNX's defaults.
  const onnx::AttributeProto* attribute(const onnx::NodeProto& n, const std::string& name) const;
  int64_t int_attr(const onnx::NodeProto& n, const std::string& name, int64_t fallback) const;
  double float_attr(const onnx::NodeProto& n, const std::string& name, double fallback) const;
  std::string string_attr(const onnx::NodeProto& n, const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> ints_attr(const onnx::NodeProto& n, const std::string& name,
                                 std::vector<int64_t> fallback) const;
  // Refuses attributes outside `known` (a feature the importer would silently drop).
  void only_attributes(const onnx::NodeProto& n, const std::set<std::string>& known) const;

  // The layer name of a node with weights: its weight's name without ".weight" (PyTorch's
  // state_dict names), else the node's own name.
  std::string layer_name(const onnx::NodeProto& n, size_t weight_input);
  // The name of a node without weights: its node name, made unique.
  std::string node_name(const onnx::NodeProto& n);
  // Records that the graph's tensor `ours` starts from the file's constant `theirs`.
  void take_weight(const std::string& ours, const onnx::NodeProto& n, size_t input, bool transpose = false);
  // The layer that produces the classes: its width is options.num_classes.
  bool is_head(const onnx::NodeProto& n) const { return &n == head_; }
  // Nodes another builder has already consumed (an Add folded into the MatMul before it).
  const std::vector<const onnx::NodeProto*>& consumers(const std::string& onnx_name) const;
  void consume(const onnx::NodeProto& n) { consumed_.insert(&n); }

  // --- what the walk found ---
  struct Weight {
    std::string theirs;
    bool transpose = false;
  };
  const std::map<std::string, Weight>& weights() const { return weights_; }
  const std::map<std::string, OnnxConstant>& constants() const { return constants_; }
  std::vector<std::string> resized_heads;  // layers given num_classes outputs instead of the file's

 private:
  const onnx::ModelProto& model_;
  std::string source_;
  std::map<std::string, ValueId> values_;
  std::map<std::string, OnnxConstant> constants_;
  std::map<std::string, PendingPad> pads_;
  std::map<std::string, Weight> weights_;
  std::set<std::string> names_used_;
  std::set<const onnx::NodeProto*> consumed_;
  std::map<std::string, std::vector<const onnx::NodeProto*>> consumers_;  // the nodes reading each value
  const onnx::NodeProto* head_ = nullptr;
  bool as_written_ = false;
};

// One ONNX op type: what its node becomes in the graph.
using OnnxOpBuilder = std::function<void(OnnxWalk&, const onnx::NodeProto&)>;
const std::map<std::string, OnnxOpBuilder>& onnx_ops();

// Evaluates n at import where its inputs are constants (shape arithmetic: Concat, Reshape, Slice,
// Transpose, Cast, ConstantOfShape, Unsqueeze, Gather; Shape of a computed value) and defines its
// output as a constant; false where n is not such a node (onnx_constant_folding.cpp).
bool fold_constant_node(OnnxWalk& w, const onnx::NodeProto& n);

// The values of an initializer or a Constant's tensor as doubles (float, double, int32/64).
OnnxConstant read_onnx_constant(const onnx::TensorProto& t, const std::string& where);

}  // namespace mt::layers
