// One emitter per morphtrain op kind: the ONNX (opset 13) nodes that compute the op in evaluation
// mode. Folding, gate values and the pooling output-size rule are decided here, at export time.
#include <cmath>
#include <limits>

#include "core/ops/batchnorm2d.h"
#include "core/ops/channel_pad.h"
#include "core/ops/conv2d.h"
#include "core/ops/gate.h"
#include "core/ops/linear.h"
#include "core/ops/pool2d.h"
#include "tools/onnx_graph_writer.h"

namespace mt::tools::onnx {

namespace {
using Ints = std::vector<int64_t>;

// ONNX's pooling output size with ceil_mode = 1 (no "last window must start inside" rule).
int64_t onnx_ceil_pool_size(int64_t in, int kernel, int stride, int pad) {
  return (in + 2 * pad - kernel + stride - 1) / stride + 1;
}

// conv(x, w) followed by batch norm, as one conv: w' = w * s, b' = beta + (b - mean) * s with
// s = gamma / sqrt(var + eps), per output channel; computed in double.
std::pair<std::vector<float>, std::vector<float>> fold_batchnorm(const Graph& g, const Node& conv,
                                                                 const Node& bn) {
  std::vector<double> w = values_of(g.value(conv.inputs[1]).data);
  const auto gamma = values_of(g.value(bn.inputs[1]).data);
  const auto beta = values_of(g.value(bn.inputs[2]).data);
  const auto mean = values_of(g.value(bn.inputs[3]).data);
  const auto var = values_of(g.value(bn.inputs[4]).data);
  const double eps = dynamic_cast<const BatchNorm2dOp&>(*bn.op).desc().eps;
  const bool has_bias = dynamic_cast<const Conv2dOp&>(*conv.op).has_bias();
  const std::vector<double> b = has_bias ? values_of(g.value(conv.inputs[2]).data)
                                         : std::vector<double>(gamma.size(), 0.0);
  const size_t per_out = w.size() / gamma.size();
  std::vector<double> bias(gamma.size());
  for (size_t o = 0; o < gamma.size(); ++o) {
    const double s = gamma[o] / std::sqrt(var[o] + eps);
    for (size_t k = 0; k < per_out; ++k) w[o * per_out + k] *= s;
    bias[o] = beta[o] + (b[o] - mean[o]) * s;
  }
  return {to_floats(w), to_floats(bias)};
}

// PyTorch's relu6(x + 3) / 6 is ONNX's max(0, min(1, alpha x + beta)) with alpha 1/6, beta 1/2.
std::vector<Attribute> hardsigmoid_attributes() {
  return {attr_float("alpha", 1.0f / 6.0f), attr_float("beta", 0.5f)};
}

}  // namespace

void GraphWriter::emit(int i) {
  const Node& n = graph_.node(i);
  using Rule = void (*)(GraphWriter&, const Node&, int);
  struct Row {
    OpKind kind;
    Rule emit;
  };
  // One row per kind with an ONNX form; the rest (the loss, compactors, which the merge removes,
  // custom ops) are refused by name.
  static const Row kRows[] = {
      {OpKind::conv2d, [](GraphWriter& w, const Node&, int i) { w.conv(i); }},
      {OpKind::batchnorm2d, [](GraphWriter& w, const Node& n, int) { w.batchnorm(n); }},
      {OpKind::relu, [](GraphWriter& w, const Node& n, int) { w.plain(n, "Relu"); }},
      {OpKind::sigmoid, [](GraphWriter& w, const Node& n, int) { w.plain(n, "Sigmoid"); }},
      {OpKind::relu6, [](GraphWriter& w, const Node& n, int) { w.relu6(n); }},
      {OpKind::hardsigmoid, [](GraphWriter& w, const Node& n, int) { w.hardsigmoid(n); }},
      {OpKind::hardswish, [](GraphWriter& w, const Node& n, int) { w.hardswish(n); }},
      {OpKind::add, [](GraphWriter& w, const Node& n, int) { w.plain(n, "Add"); }},
      {OpKind::mul, [](GraphWriter& w, const Node& n, int) { w.mul(n); }},
      {OpKind::concat, [](GraphWriter& w, const Node& n, int) { w.plain(n, "Concat", {attr_int("axis", 1)}); }},
      {OpKind::maxpool2d, [](GraphWriter& w, const Node& n, int) { w.pool(n); }},
      {OpKind::avgpool2d, [](GraphWriter& w, const Node& n, int) { w.pool(n); }},
      {OpKind::global_avgpool2d, [](GraphWriter& w, const Node& n, int) { w.plain(n, "GlobalAveragePool"); }},
      {OpKind::flatten, [](GraphWriter& w, const Node& n, int) { w.plain(n, "Flatten", {attr_int("axis", 1)}); }},
      {OpKind::linear, [](GraphWriter& w, const Node& n, int) { w.linear(n); }},
      {OpKind::gate, [](GraphWriter& w, const Node& n, int) { w.gate(n); }},
      {OpKind::channel_pad, [](GraphWriter& w, const Node& n, int) { w.channel_pad(n); }},
      {OpKind::dropout, [](GraphWriter& w, const Node& n, int) { w.dropout(n); }},
  };
  for (const Row& row : kRows)
    if (row.kind == n.op->kind()) return row.emit(*this, n, i);
  std::string supported;
  for (const Row& row : kRows) supported += (supported.empty() ? "" : ", ") + std::string(op_kind_name(row.kind));
  MT_FAIL(ConfigError, "[onnx export] node '", n.name, "' of kind '", n.op->kind_name(), "' has no ONNX export ",
          "(supported: ", supported, ")");
}

void GraphWriter::plain(const Node& n, const std::string& op_type, std::vector<Attribute> attributes) {
  std::vector<std::string> inputs;
  for (ValueId v : n.inputs) inputs.push_back(input(v));
  add_node(op_type, n.name, inputs, {output(n.outputs[0])}, attributes);
}

void GraphWriter::conv(int i) {
  const Node& n = graph_.node(i);
  const auto& op = dynamic_cast<const Conv2dOp&>(*n.op);
  const Conv2dDesc& d = op.desc();
  const Shape& w = shape(n.inputs[1]);  // [O, C/groups, kH, kW]
  std::vector<std::string> inputs{input(n.inputs[0])};
  ValueId out = n.outputs[0];
  if (const int bn = folded_bn_[i]; bn >= 0) {
    auto [weight, bias] = fold_batchnorm(graph_, n, graph_.node(bn));
    inputs.push_back(constant(n.name + ".weight", w.dims(), weight));
    inputs.push_back(constant(n.name + ".bias", {w[0]}, bias));
    out = graph_.node(bn).outputs[0];
  } else {
    inputs.push_back(input(n.inputs[1]));
    if (op.has_bias()) inputs.push_back(input(n.inputs[2]));
  }
  add_node("Conv", n.name, inputs, {output(out)},
           {attr_ints("kernel_shape", {w[2], w[3]}), attr_ints("strides", {d.stride_h, d.stride_w}),
            attr_ints("pads", {d.pad_h, d.pad_w, d.pad_h, d.pad_w}),
            attr_ints("dilations", {d.dilation_h, d.dilation_w}), attr_int("group", d.groups)});
}

void GraphWriter::batchnorm(const Node& n) {
  const BatchNormDesc& d = dynamic_cast<const BatchNorm2dOp&>(*n.op).desc();
  std::vector<std::string> inputs;
  for (int k = 0; k < 5; ++k) inputs.push_back(input(n.inputs[k]));  // x, scale, B, mean, var
  // ONNX's momentum weighs the running value: PyTorch's m is ONNX's 1 - m (unused in inference).
  add_node("BatchNormalization", n.name, inputs, {output(n.outputs[0])},
           {attr_float("epsilon", static_cast<float>(d.eps)),
            attr_float("momentum", static_cast<float>(1 - d.momentum))});
}

void GraphWriter::pool(const Node& n) {
  const bool max = n.op->kind() == OpKind::maxpool2d;
  const Pool2dDesc& d = max ? dynamic_cast<const MaxPool2dOp&>(*n.op).desc()
                            : dynamic_cast<const AvgPool2dOp&>(*n.op).desc();
  const Shape& x = shape(n.inputs[0]);
  const Shape& y = shape(n.outputs[0]);
  // ceil_mode only where it adds a window; there ONNX's size rule must give morphtrain's.
  const bool ceil = y[2] != conv_out_size(x[2], d.kernel_h, d.stride_h, d.pad_h, 1) ||
                    y[3] != conv_out_size(x[3], d.kernel_w, d.stride_w, d.pad_w, 1);
  if (ceil) {
    MT_CHECK(max, ConfigError, "[onnx export] node '", n.name, "': average pooling with a ceil_mode ",
             "partial window has no exact ONNX equivalent (runtimes disagree on its divisor)");
    MT_CHECK(y[2] == onnx_ceil_pool_size(x[2], d.kernel_h, d.stride_h, d.pad_h) &&
                 y[3] == onnx_ceil_pool_size(x[3], d.kernel_w, d.stride_w, d.pad_w),
             ConfigError, "[onnx export] node '", n.name, "': ceil_mode output ", y.str(), " from ",
             x.str(), " differs from ONNX's ceil_mode rule (a last window starting in the padding)");
  }
  std::vector<Attribute> attrs{attr_ints("kernel_shape", {d.kernel_h, d.kernel_w}),
                                    attr_ints("strides", {d.stride_h, d.stride_w}),
                                    attr_ints("pads", {d.pad_h, d.pad_w, d.pad_h, d.pad_w}),
                                    attr_int("ceil_mode", ceil ? 1 : 0)};
  // NB: ONNX's default is count_include_pad = 0, PyTorch's 1: always write it.
  if (!max) attrs.push_back(attr_int("count_include_pad", d.count_include_pad ? 1 : 0));
  add_node(max ? "MaxPool" : "AveragePool", n.name, {input(n.inputs[0])}, {output(n.outputs[0])}, attrs);
}

void GraphWriter::linear(const Node& n) {
  // y = x W^T + b: Gemm with transB; the bias is optional in opset 13.
  plain(n, "Gemm", {attr_int("transB", 1)});
}

void GraphWriter::mul(const Node& n) {
  const Shape& a = shape(n.inputs[0]);
  const Shape& b = shape(n.inputs[1]);
  // [N, C, 1, 1] broadcasts over [N, C, H, W] by ONNX's own (numpy) rule.
  if (a == b || a.rank() != 4 || b.rank() == 4) return plain(n, "Mul");
  // Per channel: b is [C] or [N, C]; ONNX broadcasts from the right, so b must become [.., C, 1, 1].
  const ValueId bv = n.inputs[1];
  const ValueKind kind = graph_.value(bv).kind;
  std::string b4;
  if (b.rank() == 1 && (kind == ValueKind::param || kind == ValueKind::buffer)) {
    // A copy per reader, named after the node: another reader may want the [C] shape.
    b4 = constant(n.name + ".per_channel", {1, b[0], 1, 1}, to_floats(values_of(graph_.value(bv).data)));
  } else {
    b4 = n.name + ".per_channel";
    claim(b4);
    const std::string axes = constant(n.name + ".axes", {b.rank() == 1 ? 3 : 2},
                                      b.rank() == 1 ? Ints{0, 2, 3} : Ints{2, 3});
    add_node("Unsqueeze", b4, {input(bv), axes}, {b4});
  }
  add_node("Mul", n.name, {input(n.inputs[0]), b4}, {output(n.outputs[0])});
}

void GraphWriter::relu6(const Node& n) {
  // Clip(x, 0, 6), as torch.onnx writes ReLU6; since opset 11 the bounds are scalar inputs (torch
  // writes Constant nodes; initializers, one pair per node named after it, say the same).
  add_node("Clip", n.name,
           {input(n.inputs[0]), constant(n.name + ".min", {}, std::vector<float>{0.0f}),
            constant(n.name + ".max", {}, std::vector<float>{6.0f})},
           {output(n.outputs[0])});
}

void GraphWriter::hardsigmoid(const Node& n) { plain(n, "HardSigmoid", hardsigmoid_attributes()); }

void GraphWriter::hardswish(const Node& n) {
  // HardSwish arrives in opset 14 and this file writes opset 13: x * HardSigmoid(x), what
  // torch.onnx (1.13) writes for hardswish below opset 14.
  const std::string x = input(n.inputs[0]);
  const std::string gate = n.name + ".hardsigmoid";
  claim(gate);
  add_node("HardSigmoid", gate, {x}, {gate}, hardsigmoid_attributes());
  add_node("Mul", n.name, {x, gate}, {output(n.outputs[0])});
}

void GraphWriter::gate(const Node& n) {
  // Evaluation gate (core/backend.h gate_value): sigmoid(logit) where logit > 0, else 0; channel
  // 0 is 1 where the gate keeps it open.
  const auto logits = values_of(graph_.value(n.inputs[1]).data);
  const GateDesc eval = dynamic_cast<const GateOp&>(*n.op).desc(false);
  std::vector<float> g(logits.size());
  for (size_t c = 0; c < logits.size(); ++c) g[c] = static_cast<float>(gate_value(eval, logits[c], c).g);
  const int64_t channels = static_cast<int64_t>(g.size());
  const Ints dims = shape(n.inputs[0]).rank() == 4 ? Ints{1, channels, 1, 1} : Ints{1, channels};
  const std::string values = constant(n.name + ".value", dims, g);
  add_node("Mul", n.name, {input(n.inputs[0]), values}, {output(n.outputs[0])});
}

void GraphWriter::channel_pad(const Node& n) {
  // y[:, before + c, h, w] = x[:, c, h * stride, w * stride]: a strided Slice, then a Pad of zeros.
  const ChannelPadDesc& d = dynamic_cast<const ChannelPadOp&>(*n.op).desc();
  std::string x = input(n.inputs[0]);
  if (d.stride > 1) {
    const std::string sub = n.name + ".subsample";
    claim(sub);
    const int64_t end = std::numeric_limits<int64_t>::max();
    add_node("Slice", sub,
             {x, constant(sub + ".starts", {2}, Ints{0, 0}), constant(sub + ".ends", {2}, Ints{end, end}),
              constant(sub + ".axes", {2}, Ints{2, 3}), constant(sub + ".steps", {2}, Ints{d.stride, d.stride})},
             {sub});
    x = sub;
  }
  if (d.pad_before == 0 && d.pad_after == 0) {
    add_node("Identity", n.name, {x}, {output(n.outputs[0])});
    return;
  }
  const std::string pads =
      constant(n.name + ".pads", {8}, Ints{0, d.pad_before, 0, 0, 0, d.pad_after, 0, 0});
  add_node("Pad", n.name, {x, pads}, {output(n.outputs[0])}, {attr_string("mode", "constant")});
}

void GraphWriter::dropout(const Node& n) {
  // The identity in evaluation: readers take the input's name.
  if (n.outputs[0] == model_.logits) return plain(n, "Identity");
  names_[n.outputs[0]] = input(n.inputs[0]);
}

}  // namespace mt::tools::onnx
