#pragma once
// The graph walk behind export_onnx (tools/onnx_export.h): the bookkeeping shared by the per-kind
// emitters (ONNX names of values, initializers, nodes) in onnx_export.cpp, the emitters in
// onnx_export_ops.cpp. Internal to tools/.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tools/onnx_export.h"
#include "tools/onnx_proto.h"

namespace mt::tools::onnx {

class GraphWriter {
 public:
  GraphWriter(const layers::Model& model, const OnnxExportOptions& options);
  // The GraphProto of the inference graph.
  ::onnx::GraphProto graph();

 private:
  void plan_folding();
  void emit(int node);

  // Emitters, one per op kind (onnx_export_ops.cpp).
  void conv(int node);
  void batchnorm(const Node& n);
  void pool(const Node& n);
  void linear(const Node& n);
  void mul(const Node& n);
  void relu6(const Node& n);
  void hardsigmoid(const Node& n);
  void hardswish(const Node& n);
  void gate(const Node& n);
  void channel_pad(const Node& n);
  void dropout(const Node& n);
  void plain(const Node& n, const std::string& op_type, std::vector<Attribute> attributes = {});

  // The ONNX name of a value read by a node: the images input, an initializer (added on first
  // use), or the output of an earlier node.
  std::string input(ValueId v);
  // The ONNX name a node's output value gets ("logits" for the model's logits); claims it.
  std::string output(ValueId v);
  // A new float or int64 initializer; returns its (claimed) name.
  std::string constant(const std::string& name, const std::vector<int64_t>& dims,
                       const std::vector<float>& values);
  std::string constant(const std::string& name, const std::vector<int64_t>& dims,
                       const std::vector<int64_t>& values);
  void add_node(const std::string& op_type, const std::string& name,
                const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
                const std::vector<Attribute>& attributes = {});
  void claim(const std::string& name);
  const Shape& shape(ValueId v) const { return shapes_.at(v); }  // batch 1

  const layers::Model& model_;
  const Graph& graph_;
  const OnnxExportOptions& options_;
  std::vector<Shape> shapes_;
  std::vector<bool> needed_;     // per node: on a path from the images to the logits
  std::vector<int> folded_bn_;   // per conv node: the batch norm folded into it, or -1
  std::vector<bool> absorbed_;   // per node: a batch norm emitted with its conv
  std::map<ValueId, std::string> names_;  // values that have an ONNX name already
  std::set<std::string> claimed_;
  std::vector<::onnx::NodeProto> nodes_;
  std::vector<::onnx::TensorProto> initializers_;
};

// A tensor's values as doubles in row-major order, whatever its dtype and layout.
std::vector<double> values_of(const Tensor& t);
std::vector<float> to_floats(const std::vector<double>& v);

}  // namespace mt::tools::onnx
