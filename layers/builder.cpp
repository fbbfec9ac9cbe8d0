#include "layers/builder.h"

#include <cmath>

#include "core/ops/add.h"
#include "core/ops/batchnorm2d.h"
#include "core/ops/channel_pad.h"
#include "core/ops/compactor.h"
#include "core/ops/concat.h"
#include "core/ops/conv2d.h"
#include "core/ops/dropout.h"
#include "core/ops/flatten.h"
#include "core/ops/gate.h"
#include "core/ops/hard_activations.h"
#include "core/ops/linear.h"
#include "core/ops/mul.h"
#include "core/ops/pool2d.h"
#include "core/ops/relu.h"
#include "core/ops/sigmoid.h"
#include "core/ops/softmax_cross_entropy.h"

namespace mt::layers {

namespace {
template <typename F>
void for_each_element(Tensor& t, F&& f) {
  if (t.dtype() == DType::f64) {
    double* p = t.data<double>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = f();
  } else {
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(f());
  }
}

Pool2dDesc pool_desc(Size2d kernel, const PoolOptions& o) {
  Pool2dDesc d;
  d.kernel_h = kernel.h;
  d.kernel_w = kernel.w;
  d.stride_h = o.stride.h < 0 ? kernel.h : o.stride.h;
  d.stride_w = o.stride.w < 0 ? kernel.w : o.stride.w;
  d.pad_h = o.padding.h;
  d.pad_w = o.padding.w;
  d.ceil_mode = o.ceil_mode;
  d.count_include_pad = o.count_include_pad;
  return d;
}
}  // namespace

void init_kaiming_normal_fan_out(Tensor& w, Rng& rng) {
  // fan_out = out_channels * receptive field; std = sqrt(2 / fan_out) (ReLU gain).
  const int64_t fan_out = w.numel() / std::max<int64_t>(w.dim(1), 1);
  const double std = std::sqrt(2.0 / static_cast<double>(fan_out));
  for_each_element(w, [&] { return rng.normal(0, std); });
}

void init_uniform(Tensor& t, double bound, Rng& rng) {
  for_each_element(t, [&] { return rng.uniform(-bound, bound); });
}

ModelBuilder::ModelBuilder(Graph& graph, uint64_t seed, DType dtype)
    : graph_(graph), rng_(seed), dtype_(dtype) {}

Tensor ModelBuilder::new_tensor(const Shape& shape) const { return Tensor::zeros(shape, dtype_); }

ValueId ModelBuilder::param(const std::string& name, Tensor t) {
  const ValueId v = graph_.add_param(name, std::move(t));
  shapes_[v] = graph_.value(v).shape;
  return v;
}

ValueId ModelBuilder::input(const std::string& name, const Shape& sample_shape) {
  const ValueId v = graph_.add_input(name, sample_shape, dtype_);
  std::vector<int64_t> dims{1};
  for (int64_t d : sample_shape.dims()) dims.push_back(d);
  shapes_[v] = Shape(dims);
  return v;
}

ValueId ModelBuilder::labels(const std::string& name) {
  const ValueId v = graph_.add_input(name, Shape{}, DType::i64);
  shapes_[v] = Shape{1};
  return v;
}

ValueId ModelBuilder::node(const std::string& name, OpPtr op, const std::vector<ValueId>& inputs) {
  std::vector<Shape> in;
  for (ValueId i : inputs) in.push_back(shape(i));
  std::vector<Shape> out;
  try {
    out = op->infer_shapes(in);
  } catch (const ShapeError& e) {
    throw ShapeError("layer '" + name + "': " + e.what());
  }
  const std::vector<ValueId> outs = graph_.add_node(name, std::move(op), inputs);
  for (size_t i = 0; i < outs.size(); ++i) shapes_[outs[i]] = out[i];
  return outs.front();
}

ValueId ModelBuilder::conv2d(const std::string& name, ValueId x, int64_t out_channels, Size2d kernel,
                             const ConvOptions& o) {
  const int64_t in_channels = channels(x);
  MT_CHECK(o.groups >= 1, ShapeError, "layer '", name, "': groups must be >= 1, got ", o.groups);
  MT_CHECK(out_channels > 0 && in_channels % o.groups == 0 && out_channels % o.groups == 0,
           ShapeError, "layer '", name, "': groups ", o.groups, " must divide in ", in_channels,
           " and out ", out_channels, " channels");
  Tensor w = new_tensor({out_channels, in_channels / o.groups, kernel.h, kernel.w});
  init_kaiming_normal_fan_out(w, rng_);
  std::vector<ValueId> inputs{x, param(name + ".weight", std::move(w))};
  if (o.bias) {
    Tensor b = new_tensor({out_channels});
    init_uniform(b, 1.0 / std::sqrt(static_cast<double>(in_channels / o.groups * kernel.h * kernel.w)), rng_);
    inputs.push_back(param(name + ".bias", std::move(b)));
  }
  Conv2dDesc d;
  d.stride_h = o.stride.h;
  d.stride_w = o.stride.w;
  d.pad_h = o.padding.h;
  d.pad_w = o.padding.w;
  d.dilation_h = o.dilation.h;
  d.dilation_w = o.dilation.w;
  d.groups = o.groups;
  return node(name, std::make_shared<Conv2dOp>(d, o.bias), inputs);
}

ValueId ModelBuilder::batchnorm2d(const std::string& name, ValueId x, double eps, double momentum) {
  const Shape c{channels(x)};
  Tensor gamma = new_tensor(c), var = new_tensor(c);
  gamma.fill(1);
  var.fill(1);
  const ValueId w = param(name + ".weight", std::move(gamma));
  const ValueId b = param(name + ".bias", new_tensor(c));
  const ValueId rm = graph_.add_buffer(name + ".running_mean", new_tensor(c));
  const ValueId rv = graph_.add_buffer(name + ".running_var", std::move(var));
  const ValueId nbt = graph_.add_buffer(name + ".num_batches_tracked", Tensor::zeros({}, DType::i64));
  for (ValueId v : {rm, rv, nbt}) shapes_[v] = graph_.value(v).shape;
  const ValueId y =
      node(name, std::make_shared<BatchNorm2dOp>(BatchNormDesc{eps, momentum}), {x, w, b, rm, rv, nbt});
  const int producer = graph_.producer(x);
  if (producer < 0 || graph_.node(producer).op->kind() != OpKind::conv2d) return y;
  const Node& conv = graph_.node(producer);
  if (compactors_ && dynamic_cast<const Conv2dOp&>(*conv.op).desc().groups == 1)
    return compactor(conv.name + ".compactor", y);
  if (!gating_.enabled) return y;
  return gate(conv.name + ".gate", y, gating_.temperature, gating_.init_logit, gating_.keep_first_channel);
}

ValueId ModelBuilder::relu(const std::string& name, ValueId x) {
  return node(name, std::make_shared<ReluOp>(), {x});
}

ValueId ModelBuilder::sigmoid(const std::string& name, ValueId x) {
  return node(name, std::make_shared<SigmoidOp>(), {x});
}

ValueId ModelBuilder::relu6(const std::string& name, ValueId x) {
  return node(name, std::make_shared<Relu6Op>(), {x});
}

ValueId ModelBuilder::hardsigmoid(const std::string& name, ValueId x) {
  return node(name, std::make_shared<HardSigmoidOp>(), {x});
}

ValueId ModelBuilder::hardswish(const std::string& name, ValueId x) {
  return node(name, std::make_shared<HardSwishOp>(), {x});
}

ValueId ModelBuilder::linear(const std::string& name, ValueId x, int64_t out_features, bool bias) {
  MT_CHECK(shape(x).rank() == 2, ShapeError, "layer '", name, "': linear needs a [N, K] input, got ",
           shape(x).str(), " (add a flatten)");
  const int64_t in_features = shape(x)[1];
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  Tensor w = new_tensor({out_features, in_features});
  init_uniform(w, bound, rng_);
  std::vector<ValueId> inputs{x, param(name + ".weight", std::move(w))};
  if (bias) {
    Tensor b = new_tensor({out_features});
    init_uniform(b, bound, rng_);
    inputs.push_back(param(name + ".bias", std::move(b)));
  }
  return node(name, std::make_shared<LinearOp>(bias), inputs);
}

ValueId ModelBuilder::maxpool2d(const std::string& name, ValueId x, Size2d kernel, const PoolOptions& o) {
  return node(name, std::make_shared<MaxPool2dOp>(pool_desc(kernel, o)), {x});
}

ValueId ModelBuilder::avgpool2d(const std::string& name, ValueId x, Size2d kernel, const PoolOptions& o) {
  return node(name, std::make_shared<AvgPool2dOp>(pool_desc(kernel, o)), {x});
}

ValueId ModelBuilder::global_avgpool2d(const std::string& name, ValueId x) {
  return node(name, std::make_shared<GlobalAvgPool2dOp>(), {x});
}

ValueId ModelBuilder::flatten(const std::string& name, ValueId x) {
  return node(name, std::make_shared<FlattenOp>(), {x});
}

ValueId ModelBuilder::add(const std::string& name, ValueId a, ValueId b) {
  return node(name, std::make_shared<AddOp>(), {a, b});
}

ValueId ModelBuilder::mul(const std::string& name, ValueId a, ValueId b) {
  return node(name, std::make_shared<MulOp>(), {a, b});
}

ValueId ModelBuilder::concat(const std::string& name, const std::vector<ValueId>& xs) {
  return node(name, std::make_shared<ConcatOp>(), xs);
}

ValueId ModelBuilder::channel_pad(const std::string& name, ValueId x, int64_t pad_before,
                                  int64_t pad_after, int stride) {
  return node(name, std::make_shared<ChannelPadOp>(ChannelPadDesc{pad_before, pad_after, stride}), {x});
}

ValueId ModelBuilder::dropout(const std::string& name, ValueId x, double p) {
  return node(name, std::make_shared<DropoutOp>(p), {x});
}

ValueId ModelBuilder::cross_entropy(const std::string& name, ValueId logits, ValueId labels,
                                    double label_smoothing) {
  return node(name, std::make_shared<SoftmaxCrossEntropyOp>(label_smoothing), {logits, labels});
}

ValueId ModelBuilder::gate(const std::string& name, ValueId x, double temperature, double init_logit,
                           bool keep_first_channel) {
  const int producer = graph_.producer(x);
  MT_CHECK(producer < 0 || graph_.node(producer).op->kind() != OpKind::gate, ShapeError, "layer '", name,
           "': its input '", graph_.value(x).name, "' is a gate's output already");
  Tensor logits = new_tensor({channels(x)});
  logits.fill(init_logit);
  return node(name, std::make_shared<GateOp>(temperature, keep_first_channel), {x, param(name + ".logits", std::move(logits))});
}

ValueId ModelBuilder::gate_hidden(const std::string& layer, ValueId x) {
  if (!gating_.enabled) return x;
  return gate(layer + ".gate", x, gating_.temperature, gating_.init_logit, gating_.keep_first_channel);
}

ValueId ModelBuilder::compactor(const std::string& name, ValueId x) {
  const int64_t c = channels(x);
  Tensor q = new_tensor({c, c, 1, 1});  // [C, C, 1, 1]: the identity
  for (int64_t i = 0; i < c; ++i) {
    if (dtype_ == DType::f64) q.data<double>()[i * c + i] = 1;
    else q.data<float>()[i * c + i] = 1;
  }
  return node(name, std::make_shared<CompactorOp>(), {x, param(name + ".weight", std::move(q))});
}

}  // namespace mt::layers
