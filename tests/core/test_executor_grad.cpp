// The executor's reverse pass, end to end: a small residual network built by hand, run forward
// (train) and backward on the reference backend in double, every parameter gradient and the
// input gradient checked against central differences of the whole loss. The graph has fan-out
// (x feeds conv1 and the shortcut; relu1 feeds conv2 and an add), so gradient accumulation is
// covered too.
#include <catch2/catch.hpp>
#include <memory>

#include "core/executor.h"
#include "core/ops/add.h"
#include "core/ops/batchnorm2d.h"
#include "core/ops/channel_pad.h"
#include "core/ops/conv2d.h"
#include "core/ops/flatten.h"
#include "core/ops/linear.h"
#include "core/ops/pool2d.h"
#include "core/ops/relu.h"
#include "core/ops/softmax_cross_entropy.h"
#include "kernels/reference/reference_backend.h"
#include "tests/kernels/gradcheck.h"

namespace mt {
namespace {

// The reference kernels with the executor told to keep activations channels-last, so the same
// graph also runs through layout changes (the feed copy, the flatten).
class NhwcReferenceBackend : public ReferenceBackend {
 public:
  Layout activation_layout() const override { return Layout::nhwc; }
};

struct TinyResNet {
  Graph graph;
  ValueId x, labels, loss, bn_input, add_output;
};

// x [N, 3, 7, 7] -> conv1 (3x3 s2 p1) -> bn1 -> relu1 -> conv2 (3x3 p1, bias) -> + relu1
// -> + channel_pad(x) -> relu2 -> global avg pool -> flatten -> fc -> softmax cross-entropy.
void build(TinyResNet& net, test::Rng& rng) {
  Graph& g = net.graph;
  auto param = [&](const std::string& name, const Shape& s, double lo, double hi) {
    return g.add_param(name, test::uniform(s, rng, Layout::nchw, lo, hi));
  };
  net.x = g.add_input("x", {3, 7, 7}, DType::f64);
  net.labels = g.add_input("labels", {}, DType::i64);
  const ValueId w1 = param("conv1.weight", {4, 3, 3, 3}, -0.5, 0.5);
  const ValueId c1 = g.add(
      "conv1", std::make_shared<Conv2dOp>(Conv2dDesc{2, 2, 1, 1, 1, 1, 1}, false), {net.x, w1});
  net.bn_input = c1;
  const ValueId gamma = param("bn1.weight", {4}, 0.5, 1.5),
                beta = param("bn1.bias", {4}, -0.5, 0.5);
  const ValueId rm = g.add_buffer("bn1.running_mean", Tensor::zeros({4}, DType::f64));
  Tensor ones = Tensor::empty({4}, DType::f64);
  ones.fill(1);
  const ValueId rv = g.add_buffer("bn1.running_var", ones);
  const ValueId tracked = g.add_buffer("bn1.num_batches_tracked", Tensor::zeros({}, DType::i64));
  const ValueId b1 = g.add("bn1", std::make_shared<BatchNorm2dOp>(BatchNormDesc{}),
                           {c1, gamma, beta, rm, rv, tracked});
  const ValueId r1 = g.add("relu1", std::make_shared<ReluOp>(), {b1});
  const ValueId w2 = param("conv2.weight", {4, 4, 3, 3}, -0.3, 0.3);
  const ValueId bias2 = param("conv2.bias", {4}, -0.3, 0.3);
  const ValueId c2 = g.add(
      "conv2", std::make_shared<Conv2dOp>(Conv2dDesc{1, 1, 1, 1, 1, 1, 1}, true), {r1, w2, bias2});
  const ValueId s1 = g.add("add1", std::make_shared<AddOp>(), {c2, r1});
  const ValueId shortcut =
      g.add("shortcut", std::make_shared<ChannelPadOp>(ChannelPadDesc{1, 0, 2}), {net.x});
  const ValueId s2 = g.add("add2", std::make_shared<AddOp>(), {s1, shortcut});
  net.add_output = s2;
  const ValueId r2 = g.add("relu2", std::make_shared<ReluOp>(), {s2});
  const ValueId pooled = g.add("pool", std::make_shared<GlobalAvgPool2dOp>(), {r2});
  const ValueId flat = g.add("flatten", std::make_shared<FlattenOp>(), {pooled});
  const ValueId wf = param("fc.weight", {5, 4}, -1, 1), bf = param("fc.bias", {5}, -0.5, 0.5);
  const ValueId logits = g.add("fc", std::make_shared<LinearOp>(true), {flat, wf, bf});
  net.loss = g.add("loss", std::make_shared<SoftmaxCrossEntropyOp>(0.1), {logits, net.labels});
  g.mark_output(net.loss);
}

// The smallest |v| over a tensor: how far the values feeding a ReLU sit from its kink.
double min_abs(const Tensor& t) {
  const Tensor r = t.to(Layout::nchw);
  double m = INFINITY;
  for (int64_t i = 0; i < r.numel(); ++i) m = std::min(m, std::abs(r.data<double>()[i]));
  return m;
}

// fuse_relu: run the ReLUs inside the batch norm and the add (the default), or as their own ops.
void check_executor_grads(KernelBackend& backend, bool fuse_relu) {
  test::Rng rng(2024);
  TinyResNet net;
  build(net, rng);
  Executor ex(net.graph, backend, Executor::Options{.input_grads = true, .fuse_relu = fuse_relu});

  std::vector<Tensor> feeds{test::uniform({3, 3, 7, 7}, rng), Tensor::empty({3}, DType::i64)};
  const int64_t label_values[] = {4, 0, 2};
  std::copy(std::begin(label_values), std::end(label_values), feeds[1].data<int64_t>());
  auto loss = [&] {
    ex.forward(feeds, Mode::train);
    return ex.value(net.loss).data<double>()[0];
  };

  loss();
  // Finite differences across a ReLU kink would be meaningless: make sure none is close. (Fused,
  // the pre-activations are never materialised; the unfused run checks the same data.) Read in
  // an executor that keeps every buffer: the planned one reuses a pre-activation's memory once
  // its ReLU has run, as no backward reads it.
  if (!fuse_relu) {
    Executor keep_all(net.graph, backend, Executor::Options{.fuse_relu = false, .reuse_memory = false});
    keep_all.forward(feeds, Mode::train);
    REQUIRE(min_abs(keep_all.value(net.graph.at("bn1"))) > 1e-4);
    REQUIRE(min_abs(keep_all.value(net.add_output)) > 1e-4);
    CHECK_THROWS_WITH(ex.value(net.graph.at("bn1")), Catch::Contains("no longer held"));
  }
  ex.backward(net.loss);

  std::vector<std::pair<std::string, Tensor>> analytic;
  for (ValueId p : net.graph.params())
    analytic.emplace_back(net.graph.value(p).name, ex.grad(p).clone());
  const Tensor dx = ex.grad(net.x).clone();

  // A second step on the same data gives the same gradients (nothing leaks between steps).
  loss();
  ex.backward(net.loss);
  for (size_t i = 0; i < analytic.size(); ++i) {
    INFO(analytic[i].first);
    CHECK(max_rel_diff(ex.grad(net.graph.params()[i]), analytic[i].second) < 1e-12);
  }

  for (size_t i = 0; i < analytic.size(); ++i)
    test::check_grad(analytic[i].first, analytic[i].second,
                     net.graph.value(net.graph.params()[i]).data, loss);
  test::check_grad("x", dx, feeds[0], loss);
  // Train-mode forwards advanced the batch counter, one per forward.
  CHECK(*net.graph.value(net.graph.at("bn1.num_batches_tracked")).data.data<int64_t>() > 2);
}

TEST_CASE("executor gradients match finite differences of the loss", "[grad][executor]") {
  for (const bool fuse : {false, true}) {
    DYNAMIC_SECTION("nchw activations, fused ReLU " << fuse) {
      ReferenceBackend backend;
      check_executor_grads(backend, fuse);
    }
    DYNAMIC_SECTION("nhwc activations, fused ReLU " << fuse) {
      NhwcReferenceBackend backend;
      check_executor_grads(backend, fuse);
    }
  }
}

}  // namespace
}  // namespace mt
