#pragma once
// Small graphs for the morph tests, built op by op. The gate here is a stand-in with the real
// gate's interface as morph sees it (kind "gate", inputs x [N, C, H, W] and a `<name>.logits`
// parameter [C]); morph only reads graphs, so it is never run.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/graph.h"
#include "core/ops/add.h"
#include "core/ops/batchnorm2d.h"
#include "core/ops/concat.h"
#include "core/ops/conv2d.h"
#include "core/ops/flatten.h"
#include "core/ops/linear.h"
#include "core/ops/pool2d.h"
#include "core/ops/relu.h"
#include "core/random.h"

namespace mt::test {

class StandInGateOp : public Op {
 public:
  OpKind kind() const override { return OpKind::gate; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override { return {in[0]}; }
  void forward(OpContext&) const override { MT_FAIL(BackendError, "stand-in gate is not runnable"); }
  void backward(OpContext&) const override { MT_FAIL(BackendError, "stand-in gate is not runnable"); }
};

// Adds ops and randomly initialised parameters to a graph, tracking batch-1 shapes.
class NetMaker {
 public:
  explicit NetMaker(DType dtype = DType::f64, uint64_t seed = 1) : dtype_(dtype), rng_(seed) {}

  Graph graph;

  ValueId input(const std::string& name, int64_t c, int64_t h, int64_t w) {
    const ValueId v = graph.add_input(name, {c, h, w}, dtype_);
    shapes_[v] = Shape{1, c, h, w};
    return v;
  }
  ValueId conv(const std::string& name, ValueId x, int64_t out, int k, int stride = 1, int groups = 1) {
    Conv2dDesc d;
    d.stride_h = d.stride_w = stride;
    d.pad_h = d.pad_w = k / 2;
    d.groups = groups;
    const ValueId w = param(name + ".weight", {out, channels(x) / groups, k, k}, -0.5, 0.5);
    return node(name, std::make_shared<Conv2dOp>(d, false), {x, w});
  }
  ValueId bn(const std::string& name, ValueId x) {
    const Shape c{channels(x)};
    const ValueId w = param(name + ".weight", c, 0.3, 1.5);
    const ValueId b = param(name + ".bias", c, -0.1, 0.1);
    const ValueId rm = graph.add_buffer(name + ".running_mean", Tensor::zeros(c, dtype_));
    Tensor var = Tensor::zeros(c, dtype_);
    var.fill(1);
    const ValueId rv = graph.add_buffer(name + ".running_var", var);
    const ValueId nbt = graph.add_buffer(name + ".num_batches_tracked", Tensor::zeros({}, DType::i64));
    for (ValueId v : {rm, rv, nbt}) shapes_[v] = graph.value(v).shape;
    return node(name, std::make_shared<BatchNorm2dOp>(BatchNormDesc{}), {x, w, b, rm, rv, nbt});
  }
  ValueId gate(const std::string& name, ValueId x) {
    const ValueId logits = param(name + ".logits", Shape{channels(x)}, 0.5, 3.0);
    return node(name, std::make_shared<StandInGateOp>(), {x, logits});
  }
  ValueId relu(const std::string& name, ValueId x) { return node(name, std::make_shared<ReluOp>(), {x}); }
  ValueId add(const std::string& name, ValueId a, ValueId b) {
    return node(name, std::make_shared<AddOp>(), {a, b});
  }
  ValueId concat(const std::string& name, const std::vector<ValueId>& xs) {
    return node(name, std::make_shared<ConcatOp>(), xs);
  }
  ValueId gap(const std::string& name, ValueId x) {
    return node(name, std::make_shared<GlobalAvgPool2dOp>(), {x});
  }
  ValueId flatten(const std::string& name, ValueId x) { return node(name, std::make_shared<FlattenOp>(), {x}); }
  ValueId linear(const std::string& name, ValueId x, int64_t out) {
    const ValueId w = param(name + ".weight", {out, shapes_.at(x)[1]}, -0.5, 0.5);
    const ValueId b = param(name + ".bias", {out}, -0.1, 0.1);
    return node(name, std::make_shared<LinearOp>(true), {x, w, b});
  }
  int64_t channels(ValueId v) const { return shapes_.at(v)[1]; }

 private:
  ValueId param(const std::string& name, const Shape& s, double lo, double hi) {
    Tensor t = Tensor::zeros(s, dtype_);
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double v = rng_.uniform(lo, hi);
      if (dtype_ == DType::f64) t.data<double>()[i] = v;
      else t.data<float>()[i] = static_cast<float>(v);
    }
    const ValueId p = graph.add_param(name, t);
    shapes_[p] = s;
    return p;
  }
  ValueId node(const std::string& name, OpPtr op, const std::vector<ValueId>& inputs) {
    std::vector<Shape> in;
    for (ValueId v : inputs) in.push_back(shapes_.at(v));
    const std::vector<Shape> out = op->infer_shapes(in);
    const ValueId y = graph.add(name, std::move(op), inputs);
    shapes_[y] = out[0];
    return y;
  }

  DType dtype_;
  Rng rng_;
  std::map<ValueId, Shape> shapes_;
};

// A network with every construct morph handles, small enough for finite differences:
//   a: conv 3->4, bn, gate, relu
//   b: conv a->4 (3x3), bn, gate;  s: conv a->4 (1x1), bn, gate;  r = relu(b + s)
//   c: conv a->3 (1x1), bn, gate, relu
//   d: conv concat(r, c) -> 5, stride 2, bn, gate, relu
//   e: depthwise conv d -> 5, bn, relu;  global average pool, flatten, fc -> 4 (the logits)
// Channel groups: a 0..3, b+s 4..7, c 8..10, d+e 11..15.
struct TinyNet {
  NetMaker m;
  ValueId images = -1, logits = -1;
};

inline std::unique_ptr<TinyNet> make_tiny_net(DType dtype = DType::f64, uint64_t seed = 1) {
  auto net = std::make_unique<TinyNet>();
  net->m = NetMaker(dtype, seed);
  NetMaker& m = net->m;
  net->images = m.input("images", 3, 6, 6);
  const ValueId a = m.relu("a_relu", m.gate("a_gate", m.bn("a_bn", m.conv("a", net->images, 4, 3))));
  const ValueId b = m.gate("b_gate", m.bn("b_bn", m.conv("b", a, 4, 3)));
  const ValueId s = m.gate("s_gate", m.bn("s_bn", m.conv("s", a, 4, 1)));
  const ValueId r = m.relu("r_relu", m.add("r", b, s));
  const ValueId c = m.relu("c_relu", m.gate("c_gate", m.bn("c_bn", m.conv("c", a, 3, 1))));
  const ValueId cat = m.concat("cat", {r, c});
  const ValueId d = m.relu("d_relu", m.gate("d_gate", m.bn("d_bn", m.conv("d", cat, 5, 3, 2))));
  const ValueId e = m.relu("e_relu", m.bn("e_bn", m.conv("e", d, 5, 3, 1, 5)));
  net->logits = m.linear("fc", m.flatten("flatten", m.gap("gap", e)), 4);
  m.graph.mark_output(net->logits);
  return net;
}

}  // namespace mt::test
