// Reading an ONNX file (libonnx: protobuf, checker, shape inference) and walking its nodes in
// order; what each op becomes is onnx_import_ops.cpp.
#include "layers/onnx_import.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include "layers/onnx_import_walk.h"
#include "layers/zoo/model.h"
#include "layers/zoo/zoo_models.h"

namespace mt::layers {

namespace {

constexpr int64_t kMinOpset = 11, kMaxOpset = 17;

// What libonnx 1.12's shape inference assumes and its checker does not ensure, checked first
// (tests/fuzz/fuzz_onnx.cpp found it dereferencing null otherwise): every value is defined once (a
// graph input, an initializer or one node output), the graph's outputs are computed by nodes, the
// one input that is not an initializer is [N, C, H, W], and a Conv's weight has rank 4.
void check_graph_structure(const onnx::GraphProto& g, const std::string& path) {
  std::set<std::string> defined, initializers, computed;
  for (const auto& t : g.initializer()) defined.insert(t.name()), initializers.insert(t.name());
  int images = 0;
  for (const auto& v : g.input()) {
    defined.insert(v.name());  // an initializer may be listed as an input too
    if (initializers.count(v.name())) continue;
    ++images;
    const bool rank4 = v.type().has_tensor_type() && v.type().tensor_type().has_shape() &&
                       v.type().tensor_type().shape().dim_size() == 4;
    MT_CHECK(rank4, ConfigError, "model.onnx: '", path, "': input '", v.name(), "' must be [N, C, H, W]");
  }
  MT_CHECK(images == 1, ConfigError, "model.onnx: '", path, "': the graph must have one input (the images), it has ",
           images);
  for (const auto& n : g.node()) {
    for (const auto& out : n.output()) {
      MT_CHECK(out.empty() || defined.insert(out).second, ConfigError, "model.onnx: '", path, "': node '", n.name(),
               "' (", n.op_type(), ") writes '", out, "', which is already defined");
      computed.insert(out);
    }
    if (n.op_type() != "Conv" || n.input_size() < 2) continue;
    for (const auto& t : g.initializer())
      MT_CHECK(t.name() != n.input(1) || t.dims_size() == 4, ConfigError, "model.onnx: '", path, "': node '", n.name(),
               "' (Conv): the weight must be [out, in / group, kh, kw] (a 2-d convolution)");
  }
  for (const auto& v : g.output())
    MT_CHECK(computed.count(v.name()), ConfigError, "model.onnx: '", path, "': the output '", v.name(),
             "' is not computed by any node");
}

// The file, parsed and checked (not yet shape-inferred: see OnnxWalk::compare_with_onnx).
onnx::ModelProto read_onnx_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MT_CHECK(in.good(), ConfigError, "model.onnx: cannot open '", path, "'");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  onnx::ModelProto model;
  MT_CHECK(model.ParseFromString(bytes.str()), ConfigError, "model.onnx: '", path,
           "' is not an ONNX model (its protobuf does not parse)");
  int64_t opset = -1;
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  MT_CHECK(opset >= kMinOpset && opset <= kMaxOpset, ConfigError, "model.onnx: '", path, "' uses opset ", opset,
           "; morphtrain imports opsets ", kMinOpset, " to ", kMaxOpset,
           " (torch.onnx.export(..., opset_version=13))");
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    MT_FAIL(ConfigError, "model.onnx: '", path, "' fails the ONNX checker: ", e.what());
  }
  check_graph_structure(model.graph(), path);
  return model;
}

std::string shape_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// The dims of a value as the file declares or ONNX infers them; empty when unknown.
std::map<std::string, std::vector<int64_t>> declared_shapes(const onnx::GraphProto& g) {
  std::map<std::string, std::vector<int64_t>> shapes;
  auto add = [&](const onnx::ValueInfoProto& v) {
    if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return;
    std::vector<int64_t> dims;
    for (const auto& d : v.type().tensor_type().shape().dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
    shapes[v.name()] = dims;
  };
  for (const auto& v : g.input()) add(v);
  for (const auto& v : g.value_info()) add(v);
  for (const auto& v : g.output()) add(v);
  return shapes;
}

}  // namespace

std::vector<std::string> onnx_supported_ops() {
  std::vector<std::string> names;
  for (const auto& [name, op] : onnx_ops()) names.push_back(name);
  return names;
}

OnnxConstant read_onnx_constant(const onnx::TensorProto& t, const std::string& where) {
  MT_CHECK(t.data_location() != onnx::TensorProto::EXTERNAL, ConfigError, where, ": tensor '", t.name(),
           "' keeps its data in an external file, which morphtrain does not read (export with the weights inside)");
  OnnxConstant c;
  c.proto = &t;
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    MT_CHECK(d >= 0 && (d == 0 || n <= std::numeric_limits<int64_t>::max() / d), ConfigError, where, ": tensor '",
             t.name(), "' has an impossible shape");
    n *= d;
    c.dims.push_back(d);
  }
  const std::string& raw = t.raw_data();
  const bool has_raw = t.has_raw_data();
  auto take = [&](auto tag, const auto& field) {
    using T = decltype(tag);
    if (has_raw) {
      MT_CHECK(raw.size() == static_cast<size_t>(n) * sizeof(T), ConfigError, where, ": tensor '", t.name(),
               "' holds ", raw.size(), " bytes for ", n, " values");
      c.values.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        T v;
        std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
        c.values[static_cast<size_t>(i)] = static_cast<double>(v);
      }
    } else {
      MT_CHECK(field.size() == n, ConfigError, where, ": tensor '", t.name(), "' holds ", field.size(),
               " values for its shape ", shape_text(c.dims));
      c.values.assign(field.begin(), field.end());
    }
  };
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT: take(float{}, t.float_data()); break;
    case onnx::TensorProto::DOUBLE: take(double{}, t.double_data()); break;
    case onnx::TensorProto::INT64: take(int64_t{}, t.int64_data()); break;
    case onnx::TensorProto::INT32: take(int32_t{}, t.int32_data()); break;
    default:
      MT_FAIL(ConfigError, where, ": tensor '", t.name(), "' has ONNX data type ", t.data_type(),
              "; morphtrain reads float, double, int32 and int64");
  }
  return c;
}

OnnxWalk::OnnxWalk(const onnx::ModelProto& model, std::string source, ModelBuilder& builder,
                   const ModelOptions& o)
    : b(builder), options(o), model_(model), source_(std::move(source)) {
  for (const auto& t : model.graph().initializer()) constants_[t.name()] = read_onnx_constant(t, source_);
  for (const auto& n : model.graph().node()) {
    if (n.op_type() == "Conv" || n.op_type() == "Gemm" || n.op_type() == "MatMul") head_ = &n;
    const std::set<std::string> reads(n.input().begin(), n.input().end());  // a node reading x twice counts once
    for (const auto& in : reads) consumers_[in].push_back(&n);
  }
}

void OnnxWalk::fail(const onnx::NodeProto& n, const std::string& message) const {
  MT_FAIL(ConfigError, source_, ": node '", n.name(), "' (", n.op_type(), "): ", message);
}

bool OnnxWalk::has_input(const onnx::NodeProto& n, size_t i) const {
  return static_cast<int>(i) < n.input_size() && !n.input(static_cast<int>(i)).empty();
}

bool OnnxWalk::is_constant(const onnx::NodeProto& n, size_t i) const {
  return has_input(n, i) && constants_.count(n.input(static_cast<int>(i))) > 0;
}

ValueId OnnxWalk::activation(const onnx::NodeProto& n, size_t i) {
  if (!has_input(n, i)) fail(n, "input " + std::to_string(i) + " is missing");
  const std::string& name = n.input(static_cast<int>(i));
  if (constants_.count(name)) fail(n, "input '" + name + "' is a constant where morphtrain needs a computed value");
  auto it = values_.find(name);
  if (it == values_.end()) fail(n, "input '" + name + "' is not produced by any earlier node");
  if (pads_.count(name) && n.op_type() != "Conv" && n.op_type() != "AveragePool")
    fail(n, "reads the Pad output '" + name + "'; a non-zero Pad folds only into a Conv or an AveragePool");
  return it->second;
}

const OnnxConstant& OnnxWalk::constant(const onnx::NodeProto& n, size_t i) const {
  if (!has_input(n, i)) fail(n, "input " + std::to_string(i) + " is missing");
  auto it = constants_.find(n.input(static_cast<int>(i)));
  if (it == constants_.end())
    fail(n, "input '" + n.input(static_cast<int>(i)) +
                "' must be a constant (an initializer or a Constant; export with do_constant_folding=True)");
  return it->second;
}

Size2d OnnxWalk::take_pad(const onnx::NodeProto& n, size_t i) {
  auto it = pads_.find(n.input(static_cast<int>(i)));
  return it == pads_.end() ? Size2d(0) : it->second.padding;
}

void OnnxWalk::define_pad(const onnx::NodeProto& n, ValueId v, Size2d padding) {
  define(n.output(0), v);
  pads_[n.output(0)] = {padding};
}

void OnnxWalk::alias(const onnx::NodeProto& n, size_t i) {
  const std::string& in = n.input(static_cast<int>(i));
  if (auto c = constants_.find(in); c != constants_.end()) {
    constants_[n.output(0)] = c->second;
    return;
  }
  define(n.output(0), activation(n, i));
  if (auto p = pads_.find(in); p != pads_.end()) pads_[n.output(0)] = p->second;
}

const onnx::AttributeProto* OnnxWalk::attribute(const onnx::NodeProto& n, const std::string& name) const {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t OnnxWalk::int_attr(const onnx::NodeProto& n, const std::string& name, int64_t fallback) const {
  const auto* a = attribute(n, name);
  return a ? a->i() : fallback;
}

double OnnxWalk::float_attr(const onnx::NodeProto& n, const std::string& name, double fallback) const {
  const auto* a = attribute(n, name);
  return a ? a->f() : fallback;
}

std::string OnnxWalk::string_attr(const onnx::NodeProto& n, const std::string& name,
                                  const std::string& fallback) const {
  const auto* a = attribute(n, name);
  return a ? a->s() : fallback;
}

std::vector<int64_t> OnnxWalk::ints_attr(const onnx::NodeProto& n, const std::string& name,
                                         std::vector<int64_t> fallback) const {
  const auto* a = attribute(n, name);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : fallback;
}

void OnnxWalk::only_attributes(const onnx::NodeProto& n, const std::set<std::string>& known) const {
  for (const auto& a : n.attribute())
    if (!known.count(a.name())) fail(n, "attribute '" + a.name() + "' is not supported");
}

std::string OnnxWalk::layer_name(const onnx::NodeProto& n, size_t weight_input) {
  const std::string& w = n.input(static_cast<int>(weight_input));
  const std::string suffix = ".weight";
  if (w.size() > suffix.size() && w.compare(w.size() - suffix.size(), suffix.size(), suffix) == 0) {
    std::string name = w.substr(0, w.size() - suffix.size());
    if (names_used_.insert(name).second) return name;  // a weight shared by two nodes: name the second by node
  }
  return node_name(n);
}

std::string OnnxWalk::node_name(const onnx::NodeProto& n) {
  // PyTorch names nodes by module path ("/layer1/layer1.0/relu/Relu"): drop the leading slash.
  std::string base = n.name().empty() ? n.op_type() : n.name();
  if (!base.empty() && base[0] == '/') base.erase(0, 1);
  std::string name = base;
  for (int k = 1; names_used_.count(name); ++k) name = base + "_" + std::to_string(k);
  names_used_.insert(name);
  return name;
}

void OnnxWalk::take_weight(const std::string& ours, const onnx::NodeProto& n, size_t input, bool transpose) {
  constant(n, input);  // it must be one
  weights_[ours] = {n.input(static_cast<int>(input)), transpose};
}

const std::vector<const onnx::NodeProto*>& OnnxWalk::consumers(const std::string& onnx_name) const {
  static const std::vector<const onnx::NodeProto*> none;
  auto it = consumers_.find(onnx_name);
  return it == consumers_.end() ? none : it->second;
}

ValueId OnnxWalk::run(ValueId images) {
  const onnx::GraphProto& g = model_.graph();
  std::vector<const onnx::ValueInfoProto*> inputs;
  for (const auto& v : g.input())
    if (!constants_.count(v.name())) inputs.push_back(&v);
  MT_CHECK(inputs.size() == 1, ConfigError, source_, ": the graph must have one input (the images), it has ",
           inputs.size());
  MT_CHECK(g.output_size() == 1, ConfigError, source_, ": the graph must have one output (the logits), it has ",
           g.output_size());
  const auto shapes = declared_shapes(g);
  const std::vector<int64_t> in_dims = shapes.count(inputs[0]->name()) ? shapes.at(inputs[0]->name())
                                                                      : std::vector<int64_t>{};
  const Shape& ours = b.shape(images);
  MT_CHECK(in_dims.size() == 4, ConfigError, source_, ": input '", inputs[0]->name(), "' must be [N, C, H, W], is ",
           shape_text(in_dims));
  MT_CHECK(in_dims[1] == ours[1], ConfigError, source_, ": input '", inputs[0]->name(), "' has ", in_dims[1],
           " channels, the data ", ours[1], " (", ours.str(), ")");
  define(inputs[0]->name(), images);
  as_written_ = options.widths.empty() && options.width_multiplier == 1.0 && in_dims[2] == ours[2] &&
                in_dims[3] == ours[3];

  for (const auto& n : g.node()) {
    if (consumed_.count(&n)) continue;
    if (!n.domain().empty() && n.domain() != "ai.onnx")
      fail(n, "the op domain '" + n.domain() + "' is not supported (only the standard ONNX ops are)");
    if (fold_constant_node(*this, n)) continue;
    auto op = onnx_ops().find(n.op_type());
    if (op == onnx_ops().end()) {
      std::string known;
      for (const auto& name : onnx_supported_ops()) known += (known.empty() ? "" : ", ") + name;
      fail(n, "op type '" + n.op_type() + "' is not supported; morphtrain imports " + known);
    }
    op->second(*this, n);
  }
  const std::string& out = g.output(0).name();
  auto it = values_.find(out);
  MT_CHECK(it != values_.end(), ConfigError, source_, ": the output '", out, "' is not computed by any node");
  MT_CHECK(b.shape(it->second).rank() == 2, ConfigError, source_, ": the output '", out,
           "' must be the logits [N, classes], it is ", b.shape(it->second).str());
  return it->second;
}

void OnnxWalk::compare_with_onnx() const {
  if (!as_written_ || !resized_heads.empty()) return;
  // After the walk, which has checked every attribute the engine reads: libonnx 1.12's shape
  // inference divides by a zero stride or group where nothing checked them (fuzz_onnx found it).
  onnx::ModelProto inferred = model_;
  try {
    onnx::shape_inference::InferShapes(inferred);
  } catch (const std::exception& e) {
    MT_FAIL(ConfigError, source_, ": fails ONNX's shape inference: ", e.what());
  }
  const auto shapes = declared_shapes(inferred.graph());
  for (const auto& n : model_.graph().node()) {
    for (const auto& out : n.output()) {
      auto v = values_.find(out);
      auto declared = shapes.find(out);
      if (v == values_.end() || declared == shapes.end()) continue;
      const Shape& s = b.shape(v->second);
      bool same = static_cast<size_t>(s.rank()) == declared->second.size();
      for (int d = 1; same && d < s.rank(); ++d) same = declared->second[d] < 0 || declared->second[d] == s[d];
      if (!same)
        fail(n, "output '" + out + "' is " + s.str() + " in morphtrain (batch 1) but " +
                    shape_text(declared->second) + " by ONNX's shape inference");
    }
  }
}

ValueId build_onnx_model(ModelBuilder& b, ValueId x, const ModelOptions& o) {
  MT_CHECK(!o.onnx_source.empty(), ConfigError, "model 'onnx' needs model.onnx: the path of an .onnx file");
  const onnx::ModelProto model = read_onnx_model(o.onnx_source);
  OnnxWalk walk(model, o.onnx_source, b, o);
  const ValueId logits = walk.run(x);
  walk.compare_with_onnx();
  return logits;
}

OnnxWeights onnx_initial_weights(const ModelOptions& o) {
  const onnx::ModelProto model = read_onnx_model(o.onnx_source);
  Graph scratch;
  ModelBuilder b(scratch, o.seed, DType::f32);
  ModelOptions as_written = o;
  as_written.gating = false;
  as_written.compactors = false;
  const ValueId x = b.input("images", {o.in_channels, o.image_size, o.image_width > 0 ? o.image_width : o.image_size});
  OnnxWalk walk(model, o.onnx_source, b, as_written);
  walk.run(x);

  OnnxWeights out;
  std::set<std::string> resized;
  for (const auto& head : walk.resized_heads) {
    resized.insert(head + ".weight");
    resized.insert(head + ".bias");
    out.notes.push_back("layer '" + head + "' has " + std::to_string(o.num_classes) +
                        " outputs for the data's classes instead of the file's: it starts from fresh weights");
  }
  for (const auto& [ours, w] : walk.weights()) {
    if (resized.count(ours)) continue;
    const OnnxConstant& c = walk.constants().at(w.theirs);
    Shape shape(c.dims);
    if (w.transpose) shape = Shape{c.dims.at(1), c.dims.at(0)};
    Tensor t = Tensor::empty(shape, DType::f32);
    float* dst = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      const int64_t from = w.transpose ? (i % shape[1]) * shape[0] + i / shape[1] : i;
      dst[i] = static_cast<float>(c.values[static_cast<size_t>(from)]);
    }
    out.tensors.emplace_back(ours, std::move(t));
  }
  // PyTorch's batch-norm counter is not in an ONNX file; it starts at zero as in a fresh module.
  for (const Node& n : scratch.nodes()) {
    if (n.op->kind() != OpKind::batchnorm2d) continue;
    out.tensors.emplace_back(n.name + ".num_batches_tracked", Tensor::zeros({}, DType::i64));
  }
  return out;
}

}  // namespace mt::layers
