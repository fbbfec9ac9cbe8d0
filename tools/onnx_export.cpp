#include "tools/onnx_export.h"

#include <onnx/checker.h>

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

::onnx::GraphProto GraphWriter::graph() {
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

  ::onnx::GraphProto g;
  for (auto& n : nodes_) *g.add_node() = std::move(n);
  g.set_name(model_.name);
  for (auto& t : initializers_) *g.add_initializer() = std::move(t);
  *g.add_input() = value_info("images", in_dims);
  *g.add_output() = value_info("logits", out_dims);
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
                           const std::vector<Attribute>& attributes) {
  nodes_.push_back(node(op_type, name, inputs, outputs, attributes));
}

void GraphWriter::claim(const std::string& name) {
  MT_CHECK(claimed_.insert(name).second, ConfigError, "[onnx export] two ONNX values would be named '",
           name, "' (model '", model_.name, "'); rename the layer");
}

}  // namespace onnx

std::string onnx_model_bytes(const layers::Model& model, const OnnxExportOptions& o) {
  onnx::GraphWriter writer(model, o);
  ::onnx::ModelProto m;
  m.set_ir_version(onnx::kIrVersion);
  m.set_producer_name("morphtrain");
  if (!o.producer_version.empty()) m.set_producer_version(o.producer_version);
  *m.mutable_graph() = writer.graph();
  auto* opset = m.add_opset_import();
  opset->set_domain("");  // ai.onnx
  opset->set_version(onnx::kOpset);
  for (const auto& [key, value] : o.metadata) {
    auto* entry = m.add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }
  // The ONNX checker on every export: a graph it rejects is our bug, reported before any file exists.
  try {
    ::onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    MT_FAIL(ConfigError, "[onnx export] model '", model.name, "' fails the ONNX checker: ", e.what());
  }
  std::string bytes;
  MT_CHECK(m.SerializeToString(&bytes), ConfigError, "[onnx export] model '", model.name,
           "' does not serialise (over protobuf's 2 GiB limit?)");
  return bytes;
}

void export_onnx(const layers::Model& model, const std::string& path, const OnnxExportOptions& o) {
  const std::string bytes = onnx_model_bytes(model, o);
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace mt::tools
