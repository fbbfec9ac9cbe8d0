#include "tools/onnx_export.h"

#include "core/atomic_file.h"
#include "core/graph_queries.h"
#include "tools/onnx_graph_writer.h"

namespace mt::tools {

namespace onnx {

namespace {
constexpr int64_t kIrVersion = 7;  // the IR of opset 13 (onnx 1.8); PyTorch 1.13 writes the same
constexpr int64_t kOpset = 13;
}  // namespace

std::vector<double> values_of(const Tensor& t) {
  Tensor c = Tensor::empty(t.shape(), DType::f64);
  c.copy_from(t);
  const double* p = c.data<double>();
  return {p, p + c.numel()};
}

std::vector<float> to_floats(const std::vector<double>& v) { return {v.begin(), v.end()}; }

GraphWriter::GraphWriter(const layers::Model& model, const OnnxExportOptions& options)
    : model_(model), graph_(model.graph), options_(options) {
  MT_CHECK(model.images >= 0 && model.logits >= 0, ConfigError,
           "[onnx export] model '", model.name, "' has no images or logits value");
  shapes_ = infer_value_shapes(graph_, 1);
  needed_ = nodes_feeding(graph_, model.logits);  // not the labels and the loss
  folded_bn_.assign(graph_.nodes().size(), -1);
  absorbed_.assign(graph_.nodes().size(), false);
  if (options_.fold_batchnorm) plan_folding();
}

// The executor's rule (core/ops/conv_bn_eval.h): a conv whose output only a batch norm reads.
void GraphWriter::plan_folding() {
  for (size_t i = 0; i < graph_.nodes().size(); ++i) {
    const Node& conv = graph_.node(static_cast<int>(i));
    if (!needed_[i] || conv.op->kind() != OpKind::conv2d) continue;
    const ValueId out = conv.outputs[0];
    const int bn = batchnorm_reading(graph_, out);
    if (bn < 0 || out == model_.logits) continue;
    folded_bn_[i] = bn;
    absorbed_[bn] = true;
  }
}

ProtobufWriter GraphWriter::graph() {
  claim("images");
  names_[model_.images] = "images";
  for (size_t i = 0; i < graph_.nodes().size(); ++i)
    if (needed_[i] && !absorbed_[i]) emit(static_cast<int>(i));

  const Shape& images = graph_.value(model_.images).shape;  // one sample: [C, H, W]
  std::vector<Dim> in_dims{{0, options_.batch_dim}};
  for (int64_t d : images.dims()) {
    MT_CHECK(d > 0, ConfigError, "[onnx export] model '", model_.name, "': images ", images.str(),
             " must have a fixed size to export");
    in_dims.push_back({d, ""});
  }
  std::vector<Dim> out_dims{{0, options_.batch_dim}};
  for (int d = 1; d < shape(model_.logits).rank(); ++d) out_dims.push_back({shape(model_.logits)[d], ""});

  ProtobufWriter g;  // GraphProto
  for (const auto& n : nodes_) g.message(1, n);
  g.bytes(2, model_.name);
  for (const auto& t : initializers_) g.message(5, t);
  g.message(11, value_info("images", ElemType::f32, in_dims));
  g.message(12, value_info("logits", ElemType::f32, out_dims));
  return g;
}

std::string GraphWriter::input(ValueId v) {
  auto it = names_.find(v);
  if (it != names_.end()) return it->second;
  const Value& value = graph_.value(v);
  MT_CHECK(value.kind == ValueKind::param || value.kind == ValueKind::buffer, ConfigError,
           "[onnx export] value '", value.name, "' is read before it is written, or is a graph ",
           "input other than the images (only the images may feed the logits)");
  const std::string name = constant(value.name, shape(v).dims(), to_floats(values_of(value.data)));
  names_[v] = name;
  return name;
}

std::string GraphWriter::output(ValueId v) {
  const std::string name = v == model_.logits ? "logits" : graph_.value(v).name;
  claim(name);
  names_[v] = name;
  return name;
}

std::string GraphWriter::constant(const std::string& name, const std::vector<int64_t>& dims,
                                  const std::vector<float>& values) {
  claim(name);
  initializers_.push_back(tensor(name, dims, values));
  return name;
}

std::string GraphWriter::constant(const std::string& name, const std::vector<int64_t>& dims,
                                  const std::vector<int64_t>& values) {
  claim(name);
  initializers_.push_back(tensor(name, dims, values));
  return name;
}

void GraphWriter::add_node(const std::string& op_type, const std::string& name,
                           const std::vector<std::string>& inputs,
                           const std::vector<std::string>& outputs,
                           const std::vector<ProtobufWriter>& attributes) {
  nodes_.push_back(node(op_type, name, inputs, outputs, attributes));
}

void GraphWriter::claim(const std::string& name) {
  MT_CHECK(claimed_.insert(name).second, ConfigError, "[onnx export] two ONNX values would be named '",
           name, "' (model '", model_.name, "'); rename the layer");
}

}  // namespace onnx

std::string onnx_model_bytes(const layers::Model& model, const OnnxExportOptions& o) {
  onnx::GraphWriter writer(model, o);
  ProtobufWriter m;  // ModelProto
  m.int64(1, onnx::kIrVersion);
  m.bytes(2, "morphtrain");
  if (!o.producer_version.empty()) m.bytes(3, o.producer_version);
  m.message(7, writer.graph());
  m.message(8, onnx::opset(onnx::kOpset));
  for (const auto& [key, value] : o.metadata) m.message(14, onnx::string_entry(key, value));
  return m.data();
}

void export_onnx(const layers::Model& model, const std::string& path, const OnnxExportOptions& o) {
  const std::string bytes = onnx_model_bytes(model, o);
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace mt::tools
