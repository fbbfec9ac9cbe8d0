// The executor's reverse pass through MobileNetV3's pieces: hardswish, a squeeze-excitation branch
// (global average pool -> 1x1 conv -> relu6 -> 1x1 conv -> hardsigmoid) whose [N, C, 1, 1] output
// scales the activation per channel (mul, as ONNX writes it), then the classifier. Reference
// backend in double, nchw and nhwc; every parameter gradient and the input gradient against
// central differences of the whole loss. The activations' backward reads their inputs, which the
// executor must keep alive until then.
#include <catch2/catch.hpp>
#include <memory>

#include "core/executor.h"
#include "core/ops/conv2d.h"
#include "core/ops/flatten.h"
#include "core/ops/hard_activations.h"
#include "core/ops/linear.h"
#include "core/ops/mul.h"
#include "core/ops/pool2d.h"
#include "core/ops/softmax_cross_entropy.h"
#include "kernels/reference/reference_backend.h"
#include "tests/kernels/gradcheck.h"

namespace mt {
namespace {

class NhwcReferenceBackend : public ReferenceBackend {
 public:
  Layout activation_layout() const override { return Layout::nhwc; }
};

struct SeNet {
  Graph graph;
  ValueId x, labels, loss;
};

// x [N, 3, 5, 5] -> conv (3x3 p1, bias) -> hardswish -> se = hardsigmoid(conv(relu6(conv(gap))))
// -> mul(hardswish, se) -> gap -> flatten -> fc -> softmax cross-entropy. Weights are wide enough
// that every activation sees more than one of its linear pieces.
void build(SeNet& net, test::Rng& rng) {
  Graph& g = net.graph;
  auto param = [&](const std::string& name, const Shape& s, double lo, double hi) {
    return g.add_param(name, test::uniform(s, rng, Layout::nchw, lo, hi));
  };
  auto conv = [&](const std::string& name, ValueId in, int64_t cin, int64_t cout, int k) {
    const int pad = k / 2;
    const ValueId w = param(name + ".weight", {cout, cin, k, k}, -1.5, 1.5);
    const ValueId b = param(name + ".bias", {cout}, -1, 1);
    return g.add(name, std::make_shared<Conv2dOp>(Conv2dDesc{1, 1, pad, pad, 1, 1, 1}, true), {in, w, b});
  };
  net.x = g.add_input("x", {3, 5, 5}, DType::f64);
  net.labels = g.add_input("labels", {}, DType::i64);
  const ValueId hs = g.add("act", std::make_shared<HardSwishOp>(), {conv("conv", net.x, 3, 6, 3)});
  const ValueId pooled = g.add("se.pool", std::make_shared<GlobalAvgPool2dOp>(), {hs});  // [N, 6, 1, 1]
  const ValueId r6 = g.add("se.relu6", std::make_shared<Relu6Op>(), {conv("se.fc1", pooled, 6, 4, 1)});
  const ValueId gate = g.add("se.gate", std::make_shared<HardSigmoidOp>(), {conv("se.fc2", r6, 4, 6, 1)});
  const ValueId scaled = g.add("se.mul", std::make_shared<MulOp>(), {hs, gate});
  const ValueId flat = g.add("flatten", std::make_shared<FlattenOp>(),
                             {g.add("pool", std::make_shared<GlobalAvgPool2dOp>(), {scaled})});
  const ValueId wf = param("fc.weight", {5, 6}, -1, 1), bf = param("fc.bias", {5}, -0.5, 0.5);
  const ValueId logits = g.add("fc", std::make_shared<LinearOp>(true), {flat, wf, bf});
  net.loss = g.add("loss", std::make_shared<SoftmaxCrossEntropyOp>(0), {logits, net.labels});
  g.mark_output(net.loss);
}

// How far the values of t sit from the nearest kink, and how many lie in each of the pieces the
// kinks cut the line into.
struct KinkStats {
  double nearest = INFINITY;
  std::vector<int> per_piece;
};
KinkStats kink_stats(const Tensor& t, const std::vector<double>& kinks) {
  const Tensor r = t.to(Layout::nchw);
  KinkStats s;
  s.per_piece.assign(kinks.size() + 1, 0);
  for (int64_t i = 0; i < r.numel(); ++i) {
    const double v = r.data<double>()[i];
    size_t piece = 0;
    for (double k : kinks) {
      s.nearest = std::min(s.nearest, std::abs(v - k));
      piece += v > k;
    }
    ++s.per_piece[piece];
  }
  return s;
}

void check_se_grads(KernelBackend& backend) {
  test::Rng rng(31);
  SeNet net;
  build(net, rng);
  Executor ex(net.graph, backend, Executor::Options{.input_grads = true});
  std::vector<Tensor> feeds{test::uniform({4, 3, 5, 5}, rng, Layout::nchw, -2, 2),
                            Tensor::empty({4}, DType::i64)};
  const int64_t label_values[] = {4, 0, 2, 1};
  std::copy(std::begin(label_values), std::end(label_values), feeds[1].data<int64_t>());
  auto loss = [&] {
    ex.forward(feeds, Mode::train);
    return ex.value(net.loss).data<double>()[0];
  };

  loss();
  // Finite differences must not straddle a kink, and the data must reach more than one piece
  // of each activation (else the test would check a line). Read before backward reuses memory.
  const auto conv = kink_stats(ex.value(net.graph.at("conv")), {-3, 3});
  const auto fc1 = kink_stats(ex.value(net.graph.at("se.fc1")), {0, 6});
  const auto fc2 = kink_stats(ex.value(net.graph.at("se.fc2")), {-3, 3});
  for (const KinkStats* s : {&conv, &fc1, &fc2}) REQUIRE(s->nearest > 1e-4);
  CHECK(conv.per_piece[0] > 0);
  CHECK(conv.per_piece[1] > 0);
  CHECK(conv.per_piece[2] > 0);
  CHECK(fc1.per_piece[0] > 0);
  CHECK(fc1.per_piece[1] > 0);
  CHECK(fc2.per_piece[1] > 0);
  CHECK(fc2.per_piece[0] + fc2.per_piece[2] > 0);

  ex.backward(net.loss);
  std::vector<std::pair<std::string, Tensor>> analytic;
  for (ValueId p : net.graph.params())
    analytic.emplace_back(net.graph.value(p).name, ex.grad(p).clone());
  const Tensor dx = ex.grad(net.x).clone();
  for (size_t i = 0; i < analytic.size(); ++i)
    test::check_grad(analytic[i].first, analytic[i].second,
                     net.graph.value(net.graph.params()[i]).data, loss);
  test::check_grad("x", dx, feeds[0], loss);
}

TEST_CASE("executor gradients through hardswish, relu6, hardsigmoid and an [N, C, 1, 1] mul",
          "[grad][executor]") {
  SECTION("nchw activations") {
    ReferenceBackend backend;
    check_se_grads(backend);
  }
  SECTION("nhwc activations") {
    NhwcReferenceBackend backend;
    check_se_grads(backend);
  }
}

}  // namespace
}  // namespace mt
