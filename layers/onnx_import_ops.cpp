// One builder per ONNX op type: the morphtrain layer a node becomes, with the node's attributes
// checked against what the engine computes. Where ONNX and PyTorch defaults differ (pool strides,
// count_include_pad, batch-norm momentum) the ONNX meaning is kept.
#include <cmath>

#include "layers/onnx_import_walk.h"
#include "layers/zoo/model.h"

namespace mt::layers {

namespace {

using onnx::NodeProto;

// ONNX pads [h_begin, w_begin, h_end, w_end] as the engine's symmetric padding.
constexpr int64_t kMaxSide = 1 << 16;  // a window, stride or padding beyond any image

Size2d symmetric(OnnxWalk& w, const NodeProto& n, const std::vector<int64_t>& pads) {
  if (pads.size() != 4) w.fail(n, "pads must have 4 values for a 2-d op");
  for (int64_t p : pads)
    if (p < 0 || p > kMaxSide) w.fail(n, "pads must be in [0, " + std::to_string(kMaxSide) + "]");
  if (pads[0] != pads[2] || pads[1] != pads[3])
    w.fail(n, "asymmetric pads [" + std::to_string(pads[0]) + ", " + std::to_string(pads[1]) + ", " +
                  std::to_string(pads[2]) + ", " + std::to_string(pads[3]) +
                  "]: the kernels pad both sides alike");
  return {static_cast<int>(pads[0]), static_cast<int>(pads[1])};
}

Size2d pair(OnnxWalk& w, const NodeProto& n, const std::string& attr, std::vector<int64_t> fallback) {
  const std::vector<int64_t> v = w.ints_attr(n, attr, std::move(fallback));
  if (v.size() != 2) w.fail(n, "'" + attr + "' must have 2 values (a 2-d op)");
  if (v[0] < 1 || v[1] < 1 || v[0] > kMaxSide || v[1] > kMaxSide)
    w.fail(n, "'" + attr + "' must be in [1, " + std::to_string(kMaxSide) + "]");
  return {static_cast<int>(v[0]), static_cast<int>(v[1])};
}

void no_auto_pad(OnnxWalk& w, const NodeProto& n) {
  const std::string a = w.string_attr(n, "auto_pad", "NOTSET");
  if (a != "NOTSET" && a != "VALID") w.fail(n, "auto_pad " + a + " is not supported (export explicit pads)");
}

// The width of a layer with `base` outputs in the file: the classes for the head, else the
// reshaper's override or the width multiplier.
int64_t out_width(OnnxWalk& w, const NodeProto& n, const std::string& layer, int64_t base) {
  if (!w.is_head(n)) return layer_width(w.options, layer, base);
  if (w.options.num_classes != base) w.resized_heads.push_back(layer);
  return w.options.num_classes;
}

void conv(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"});
  no_auto_pad(w, n);
  const ValueId x = w.activation(n, 0);
  const OnnxConstant& weight = w.constant(n, 1);
  if (weight.dims.size() != 4) w.fail(n, "the weight must be [out, in / group, kh, kw] (a 2-d convolution)");
  const std::string name = w.layer_name(n, 1);
  const int64_t group = w.int_attr(n, "group", 1);
  if (group < 1 || group > weight.dims[0] || weight.dims[0] % group != 0)
    w.fail(n, "group " + std::to_string(group) + " must divide the " + std::to_string(weight.dims[0]) + " filters");
  for (size_t d = 1; d < 4; ++d)
    if (weight.dims[d] < 1 || weight.dims[d] > kMaxSide) w.fail(n, "the weight has an empty or huge dimension");
  const int64_t in = w.b.channels(x);
  const bool depthwise = group > 1 && weight.dims[1] == 1 && group == weight.dims[0];
  ConvOptions o;
  o.stride = pair(w, n, "strides", {1, 1});
  o.dilation = pair(w, n, "dilations", {1, 1});
  const Size2d pads = symmetric(w, n, w.ints_attr(n, "pads", {0, 0, 0, 0}));
  const Size2d folded = w.take_pad(n, 0);
  o.padding = {pads.h + folded.h, pads.w + folded.w};
  o.bias = w.has_input(n, 2);
  int64_t out = 0;
  if (depthwise) {  // one filter per channel: it follows its input's width
    o.groups = static_cast<int>(in);
    out = in;
  } else {
    o.groups = static_cast<int>(group);
    // A grouped conv keeps the file's widths: its channels are pinned (morph/handlers/conv_handler).
    out = group > 1 ? weight.dims[0] : out_width(w, n, name, weight.dims[0]);
    if (group > 1 && in != weight.dims[1] * group)
      w.fail(n, "grouped conv over " + std::to_string(in) + " channels, the weight expects " +
                    std::to_string(weight.dims[1] * group));
  }
  ValueId y = w.b.conv2d(name, x, out, {static_cast<int>(weight.dims[2]), static_cast<int>(weight.dims[3])}, o);
  w.take_weight(name + ".weight", n, 1);
  if (o.bias) w.take_weight(name + ".bias", n, 2);
  // The builder gates a conv at its batch norm; a conv without one (SqueezeNet's) is gated here,
  // so that FiGS can prune it too.
  const auto& next = w.consumers(n.output(0));
  const bool normalised = next.size() == 1 && next[0]->op_type() == "BatchNormalization";
  if (!normalised && !depthwise && !w.is_head(n)) y = w.b.gate_hidden(name, y);
  w.define(n.output(0), y);
}

void batchnorm(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {"epsilon", "momentum", "training_mode", "spatial"});
  if (w.int_attr(n, "training_mode", 0) != 0) w.fail(n, "training_mode 1: export the model in eval mode");
  if (n.output_size() > 1) w.fail(n, "has the running-statistics outputs of a training export; export in eval mode");
  const ValueId x = w.activation(n, 0);
  const std::string name = w.layer_name(n, 1);
  // ONNX's momentum weighs the old statistics (0.9); PyTorch's and the engine's the new (0.1).
  const double eps = w.float_attr(n, "epsilon", 1e-5), momentum = w.float_attr(n, "momentum", 0.9);
  if (!(eps > 0 && eps < 1) || !(momentum >= 0 && momentum <= 1))
    w.fail(n, "epsilon must be in (0, 1) and momentum in [0, 1]");
  const ValueId y = w.b.batchnorm2d(name, x, eps, 1.0 - momentum);
  const char* tensors[] = {".weight", ".bias", ".running_mean", ".running_var"};
  for (size_t i = 0; i < 4; ++i) w.take_weight(name + tensors[i], n, i + 1);
  w.define(n.output(0), y);
}

void clip(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {});
  const ValueId x = w.activation(n, 0);
  const double inf = std::numeric_limits<double>::infinity();
  auto bound = [&](size_t i, double none) {
    if (!w.has_input(n, i)) return none;
    const OnnxConstant& c = w.constant(n, i);
    if (c.values.size() != 1) w.fail(n, "the bounds must be scalars");
    return c.values[0];
  };
  const double lo = bound(1, -inf), hi = bound(2, inf);
  const std::string name = w.node_name(n);
  if (lo == 0 && hi == 6) return w.define(n.output(0), w.b.relu6(name, x));
  if (lo == 0 && hi == inf) return w.define(n.output(0), w.b.relu(name, x));
  w.fail(n, "Clip(" + std::to_string(lo) + ", " + std::to_string(hi) + ") is supported as ReLU (0, none) and ReLU6 (0, 6) only");
}

void hardsigmoid(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {"alpha", "beta"});
  const double alpha = w.float_attr(n, "alpha", 0.2), beta = w.float_attr(n, "beta", 0.5);
  if (std::abs(alpha - 1.0 / 6) > 1e-6 || beta != 0.5)
    w.fail(n, "alpha " + std::to_string(alpha) + ", beta " + std::to_string(beta) +
                  ": only PyTorch's hardsigmoid (alpha 1/6, beta 0.5) is supported");
  w.define(n.output(0), w.b.hardsigmoid(w.node_name(n), w.activation(n, 0)));
}

// Same-shape products (SiLU: x * sigmoid(x)) and a per-channel scale of a feature map
// (squeeze-excitation: [N, C, H, W] * [N, C, 1, 1]).
void mul(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {});
  if (w.is_constant(n, 0) || w.is_constant(n, 1))
    w.fail(n, "a product with a constant is not supported (only products of two computed values)");
  ValueId a = w.activation(n, 0), b = w.activation(n, 1);
  const Shape sa = w.b.shape(a), sb = w.b.shape(b);
  auto per_channel = [](const Shape& big, const Shape& small) {
    return big.rank() == 4 && small.rank() == 4 && small[1] == big[1] && small[2] == 1 && small[3] == 1;
  };
  if (sa != sb && per_channel(sb, sa)) std::swap(a, b);
  else if (sa != sb && !per_channel(sa, sb))
    w.fail(n, "shapes " + sa.str() + " and " + sb.str() + " are neither equal nor a per-channel scale");
  w.define(n.output(0), w.b.mul(w.node_name(n), a, b));
}

void add(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {});
  if (w.is_constant(n, 0) || w.is_constant(n, 1))
    w.fail(n, "adding a constant is supported only as the bias right after a MatMul");
  const ValueId a = w.activation(n, 0), b = w.activation(n, 1);
  if (w.b.shape(a) != w.b.shape(b))
    w.fail(n, "shapes " + w.b.shape(a).str() + " and " + w.b.shape(b).str() + " differ (no broadcasting)");
  w.define(n.output(0), w.b.add(w.node_name(n), a, b));
}

void concat(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {"axis"});
  const int64_t axis = w.int_attr(n, "axis", 1);
  if (axis != 1 && axis != -3) w.fail(n, "axis " + std::to_string(axis) + ": only channels (axis 1) are supported");
  std::vector<ValueId> xs;
  for (int i = 0; i < n.input_size(); ++i) xs.push_back(w.activation(n, static_cast<size_t>(i)));
  w.define(n.output(0), xs.size() == 1 ? xs[0] : w.b.concat(w.node_name(n), xs));
}

PoolOptions pool_options(OnnxWalk& w, const NodeProto& n, Size2d folded) {
  no_auto_pad(w, n);
  PoolOptions o;
  o.stride = pair(w, n, "strides", {1, 1});  // ONNX's default stride is 1, PyTorch's the kernel
  const Size2d pads = symmetric(w, n, w.ints_attr(n, "pads", {0, 0, 0, 0}));
  o.padding = {pads.h + folded.h, pads.w + folded.w};
  o.ceil_mode = w.int_attr(n, "ceil_mode", 0) != 0;
  return o;
}

void maxpool(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {"kernel_shape", "strides", "pads", "ceil_mode", "dilations", "auto_pad", "storage_order"});
  if (pair(w, n, "dilations", {1, 1}) != Size2d(1)) w.fail(n, "dilated pooling is not supported");
  if (w.int_attr(n, "storage_order", 0) != 0) w.fail(n, "storage_order 1 is not supported");
  if (n.output_size() > 1) w.fail(n, "the indices output is not supported");
  const ValueId x = w.activation(n, 0);
  w.define(n.output(0), w.b.maxpool2d(w.node_name(n), x, pair(w, n, "kernel_shape", {}), pool_options(w, n, 0)));
}

void avgpool(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {"kernel_shape", "strides", "pads", "ceil_mode", "count_include_pad", "auto_pad"});
  const ValueId x = w.activation(n, 0);
  const Size2d folded = w.take_pad(n, 0);
  PoolOptions o = pool_options(w, n, folded);
  // ONNX counts padding only when told (default 0); zeros a Pad added are always counted.
  o.count_include_pad = w.int_attr(n, "count_include_pad", 0) != 0;
  const bool own_pads = o.padding != folded;
  if (folded != Size2d(0)) {
    if (own_pads && !o.count_include_pad)
      w.fail(n, "pads of its own without count_include_pad after a Pad: the two paddings average differently");
    o.count_include_pad = true;
  }
  w.define(n.output(0), w.b.avgpool2d(w.node_name(n), x, pair(w, n, "kernel_shape", {}), o));
}

void pad(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {"mode"});
  if (w.string_attr(n, "mode", "constant") != "constant") w.fail(n, "only constant padding is supported");
  if (w.has_input(n, 2)) {
    const OnnxConstant& value = w.constant(n, 2);
    if (value.values.size() != 1 || value.values[0] != 0) w.fail(n, "only zero padding is supported");
  }
  if (w.has_input(n, 3)) w.fail(n, "the axes input is not supported");
  const std::vector<double>& p = w.constant(n, 1).values;
  if (p.size() != 8 || p[0] != 0 || p[1] != 0 || p[4] != 0 || p[5] != 0)
    w.fail(n, "only padding of height and width of an [N, C, H, W] value is supported");
  for (double v : p)
    if (!(v >= 0 && v <= kMaxSide)) w.fail(n, "pads must be in [0, " + std::to_string(kMaxSide) + "]");
  if (p[2] != p[6] || p[3] != p[7]) w.fail(n, "asymmetric padding: the kernels pad both sides alike");
  if (p[2] == 0 && p[3] == 0) return w.alias(n, 0);
  const ValueId x = w.activation(n, 0);
  w.define_pad(n, x, {static_cast<int>(p[2]), static_cast<int>(p[3])});
}

void flatten_to_rows(OnnxWalk& w, const NodeProto& n, ValueId x) {
  if (w.b.shape(x).rank() == 2) return w.define(n.output(0), x);
  w.define(n.output(0), w.b.flatten(w.node_name(n), x));
}

void flatten(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {"axis"});
  if (w.int_attr(n, "axis", 1) != 1) w.fail(n, "only axis 1 ([N, -1]) is supported");
  flatten_to_rows(w, n, w.activation(n, 0));
}

// A reshape is supported where it is a flatten: [N, -1], [0, -1] or [N, C*H*W] (PyTorch writes
// x.view(x.size(0), -1) with the export's batch size once constants are folded).
void reshape(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {"allowzero"});
  const ValueId x = w.activation(n, 0);
  const std::vector<double>& s = w.constant(n, 1).values;
  const Shape& in = w.b.shape(x);
  const int64_t rows = in.numel() / in[0];
  if (s.size() != 2 || !(s[1] == -1 || s[1] == static_cast<double>(rows)) || (s[0] == -1 && s[1] == -1))
    w.fail(n, "a reshape of " + in.str() + " is supported only as a flatten to [N, -1]; one that mixes channels "
                  "cannot be traced for pruning");
  flatten_to_rows(w, n, x);
}

// y = A B^T + C (transB 1, PyTorch's nn.Linear) or A B + C: the engine's linear layer.
void gemm(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {"alpha", "beta", "transA", "transB"});
  if (w.int_attr(n, "transA", 0) != 0) w.fail(n, "transA 1 is not supported");
  if (w.float_attr(n, "alpha", 1) != 1 || w.float_attr(n, "beta", 1) != 1)
    w.fail(n, "alpha and beta other than 1 are not supported");
  const ValueId x = w.activation(n, 0);
  const OnnxConstant& weight = w.constant(n, 1);
  const bool trans = w.int_attr(n, "transB", 0) != 0;
  if (weight.dims.size() != 2 || weight.dims[0] < 1 || weight.dims[1] < 1) w.fail(n, "B must be a non-empty matrix");
  const bool bias = w.has_input(n, 2);
  if (bias && w.constant(n, 2).values.size() != static_cast<size_t>(trans ? weight.dims[0] : weight.dims[1]))
    w.fail(n, "C must be a bias with one value per output");
  const std::string name = w.layer_name(n, 1);
  const int64_t out = out_width(w, n, name, trans ? weight.dims[0] : weight.dims[1]);
  ValueId y = w.b.linear(name, x, out, bias);
  w.take_weight(name + ".weight", n, 1, !trans);
  if (bias) w.take_weight(name + ".bias", n, 2);
  if (!w.is_head(n)) y = w.b.gate_hidden(name, y);
  w.define(n.output(0), y);
}

// x W, and the Add of a bias right after it, as one linear layer.
void matmul(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {});
  const ValueId x = w.activation(n, 0);
  const OnnxConstant& weight = w.constant(n, 1);
  if (weight.dims.size() != 2 || w.b.shape(x).rank() != 2 || weight.dims[1] < 1)
    w.fail(n, "only [N, K] x [K, M] is supported");
  const std::vector<const NodeProto*>& next = w.consumers(n.output(0));
  const NodeProto* bias_add = nullptr;
  if (next.size() == 1 && next[0]->op_type() == "Add" && next[0]->input_size() == 2) {
    const int other = next[0]->input(0) == n.output(0) ? 1 : 0;
    if (w.is_constant(*next[0], static_cast<size_t>(other)) &&
        w.constant(*next[0], static_cast<size_t>(other)).values.size() == static_cast<size_t>(weight.dims[1]))
      bias_add = next[0];
  }
  const std::string name = w.layer_name(n, 1);
  const int64_t out = out_width(w, n, name, weight.dims[1]);
  ValueId y = w.b.linear(name, x, out, bias_add != nullptr);
  w.take_weight(name + ".weight", n, 1, true);
  if (bias_add) {
    const int other = bias_add->input(0) == n.output(0) ? 1 : 0;
    w.take_weight(name + ".bias", *bias_add, static_cast<size_t>(other));
    w.consume(*bias_add);
  }
  if (!w.is_head(n)) y = w.b.gate_hidden(name, y);
  w.define(n.output(0), y);
  if (bias_add) w.define(bias_add->output(0), y);
}

void dropout(OnnxWalk& w, const NodeProto& n) {
  w.only_attributes(n, {"ratio", "seed"});
  double ratio = w.float_attr(n, "ratio", 0.5);
  if (w.has_input(n, 1)) ratio = w.constant(n, 1).values.at(0);
  if (!(ratio >= 0 && ratio < 1)) w.fail(n, "ratio must be in [0, 1)");
  if (n.output_size() > 1 && !n.output(1).empty()) w.fail(n, "the mask output is not supported");
  // The network's own dropout: it trains as PyTorch's module would, and is the identity in eval.
  w.define(n.output(0), w.b.dropout(w.node_name(n), w.activation(n, 0), ratio));
}

void constant(OnnxWalk& w, const NodeProto& n) {
  const auto* value = w.attribute(n, "value");
  if (!value || !value->has_t()) w.fail(n, "only Constant with a tensor 'value' is supported");
  w.define_constant(n.output(0), read_onnx_constant(value->t(), "node '" + n.name() + "' (Constant)"));
}

template <ValueId (ModelBuilder::*Fn)(const std::string&, ValueId)>
OnnxOpBuilder unary() {
  return [](OnnxWalk& w, const NodeProto& n) {
    w.only_attributes(n, {});
    const ValueId x = w.activation(n, 0);
    w.define(n.output(0), (w.b.*Fn)(w.node_name(n), x));
  };
}

}  // namespace

const std::map<std::string, OnnxOpBuilder>& onnx_ops() {
  static const std::map<std::string, OnnxOpBuilder> ops = {
      {"Conv", conv},
      {"BatchNormalization", batchnorm},
      {"Relu", unary<&ModelBuilder::relu>()},
      {"Clip", clip},
      {"Sigmoid", unary<&ModelBuilder::sigmoid>()},
      {"HardSigmoid", hardsigmoid},
      {"HardSwish", unary<&ModelBuilder::hardswish>()},
      {"Mul", mul},
      {"Add", add},
      {"Concat", concat},
      {"MaxPool", maxpool},
      {"AveragePool", avgpool},
      {"GlobalAveragePool", unary<&ModelBuilder::global_avgpool2d>()},
      {"Flatten", flatten},
      {"Reshape", reshape},
      {"Gemm", gemm},
      {"MatMul", matmul},
      {"Dropout", dropout},
      {"Identity", [](OnnxWalk& w, const NodeProto& n) { w.alias(n, 0); }},
      {"Pad", pad},
      {"Constant", constant},
  };
  return ops;
}

}  // namespace mt::layers
