// The executor's "gradient ready" hook (data-parallel training starts averaging a bucket when it
// fires): once per parameter, only after every node that reads the parameter has run its
// backward, with the gradient already final, and early for parameters near the loss.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

#include "core/executor.h"
#include "core/ops/add.h"
#include "core/ops/batchnorm2d.h"
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

// An op that behaves as `inner` and writes "backward <node>" to a log when its backward runs.
class LoggedOp final : public Op {
 public:
  LoggedOp(OpPtr inner, std::string name, std::vector<std::string>& log)
      : inner_(std::move(inner)), name_(std::move(name)), log_(log) {}
  OpKind kind() const override { return inner_->kind(); }
  std::string kind_name() const override { return inner_->kind_name(); }
  InputRole input_role(size_t i) const override { return inner_->input_role(i); }
  int num_outputs() const override { return inner_->num_outputs(); }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override { return inner_->infer_shapes(in); }
  void forward(OpContext& ctx) const override { inner_->forward(ctx); }
  void backward(OpContext& ctx) const override {
    inner_->backward(ctx);
    log_.push_back("backward " + name_);
  }
  bool fuses_relu() const override { return inner_->fuses_relu(); }
  bool differentiable_input(int i) const override { return inner_->differentiable_input(i); }
  bool activation_output() const override { return inner_->activation_output(); }

 private:
  OpPtr inner_;
  std::string name_;
  std::vector<std::string>& log_;
};

struct HookNet {
  Graph graph;
  ValueId x, labels, loss;
  std::vector<std::string> log;
};

// x [N, 2, 5, 5] -> conv -> bn -> relu (fused into bn) -> global avg pool -> flatten -> fc_a and
// fc_b, which share one weight -> add -> fc_out -> softmax cross-entropy. Besides: `dead` reads
// the flattened features but nothing reads its output (its params are never reached), and
// `unused.weight` is read by no node at all.
void build(HookNet& net, test::Rng& rng) {
  Graph& g = net.graph;
  auto param = [&](const std::string& name, const Shape& s) { return g.add_param(name, test::uniform(s, rng)); };
  auto node = [&](const std::string& name, OpPtr op, const std::vector<ValueId>& inputs) {
    return g.add(name, std::make_shared<LoggedOp>(std::move(op), name, net.log), inputs);
  };
  net.x = g.add_input("x", {2, 5, 5}, DType::f64);
  net.labels = g.add_input("labels", {}, DType::i64);
  const ValueId conv = node("conv", std::make_shared<Conv2dOp>(Conv2dDesc{1, 1, 1, 1, 1, 1, 1}, false),
                            {net.x, param("conv.weight", {4, 2, 3, 3})});
  Tensor ones = Tensor::empty({4}, DType::f64);
  ones.fill(1);
  const ValueId bn = node("bn", std::make_shared<BatchNorm2dOp>(BatchNormDesc{}),
                          {conv, param("bn.weight", {4}), param("bn.bias", {4}),
                           g.add_buffer("bn.running_mean", Tensor::zeros({4}, DType::f64)),
                           g.add_buffer("bn.running_var", ones),
                           g.add_buffer("bn.num_batches_tracked", Tensor::zeros({}, DType::i64))});
  const ValueId relu = node("relu", std::make_shared<ReluOp>(), {bn});
  const ValueId pooled = node("pool", std::make_shared<GlobalAvgPool2dOp>(), {relu});
  const ValueId flat = node("flatten", std::make_shared<FlattenOp>(), {pooled});
  const ValueId shared = param("shared.weight", {4, 4});
  const ValueId a = node("fc_a", std::make_shared<LinearOp>(true), {flat, shared, param("fc_a.bias", {4})});
  const ValueId b = node("fc_b", std::make_shared<LinearOp>(true), {flat, shared, param("fc_b.bias", {4})});
  node("dead", std::make_shared<LinearOp>(false), {flat, param("dead.weight", {3, 4})});
  param("unused.weight", {2});
  const ValueId sum = node("add", std::make_shared<AddOp>(), {a, b});
  const ValueId logits = node("fc_out", std::make_shared<LinearOp>(true),
                              {sum, param("fc_out.weight", {3, 4}), param("fc_out.bias", {3})});
  net.loss = node("loss", std::make_shared<SoftmaxCrossEntropyOp>(), {logits, net.labels});
  g.mark_output(net.loss);
}

std::vector<Tensor> feeds(test::Rng& rng) {
  std::vector<Tensor> f{test::uniform({3, 2, 5, 5}, rng), Tensor::empty({3}, DType::i64)};
  const int64_t labels[] = {2, 0, 1};
  std::copy(std::begin(labels), std::end(labels), f[1].data<int64_t>());
  return f;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// The position of `entry` in the log, or -1.
int position(const std::vector<std::string>& log, const std::string& entry) {
  const auto it = std::find(log.begin(), log.end(), entry);
  return it == log.end() ? -1 : static_cast<int>(it - log.begin());
}

TEST_CASE("the gradient-ready hook fires once per param, after its readers, with the final gradient",
          "[executor]") {
  ReferenceBackend backend;
  test::Rng rng(77);
  HookNet net;
  build(net, rng);
  const std::vector<Tensor> in = feeds(rng);
  Executor ex(net.graph, backend);

  // Without the hook: the gradients every later run must reproduce exactly.
  ex.forward(in, Mode::train);
  ex.backward(net.loss);
  std::map<ValueId, Tensor> plain;
  for (ValueId p : net.graph.params()) plain[p] = ex.grad(p).clone();

  std::map<ValueId, Tensor> at_hook;
  std::map<ValueId, int> fired;
  ex.set_grad_ready_hook([&](ValueId p) {
    ++fired[p];
    at_hook[p] = ex.grad(p).clone();
    net.log.push_back("ready " + net.graph.value(p).name);
  });
  for (int step = 0; step < 2; ++step) {  // the second pass reuses the plan: the hook fires again
    net.log.clear();
    fired.clear();
    ex.forward(in, Mode::train);
    ex.backward(net.loss);
    for (ValueId p : net.graph.params()) {
      const std::string& name = net.graph.value(p).name;
      INFO("step " << step << ", " << name);
      CHECK(fired[p] == 1);
      CHECK(same_bytes(at_hook[p], ex.grad(p)));  // final when reported
      CHECK(same_bytes(ex.grad(p), plain[p]));    // and the hook changed nothing
      const int ready = position(net.log, "ready " + name);
      for (int reader : net.graph.consumers(p)) {
        const std::string& node = net.graph.node(reader).name;
        if (node == "dead") continue;  // never runs backward: nothing reaches it
        CHECK(position(net.log, "backward " + node) >= 0);
        CHECK(position(net.log, "backward " + node) < ready);
      }
    }
  }
  const auto ready = [&](const std::string& name) { return position(net.log, "ready " + name); };
  // Early: the last layer's gradients are reported before the first layer's backward runs.
  CHECK(ready("fc_out.weight") < position(net.log, "backward conv"));
  CHECK(ready("fc_a.bias") < position(net.log, "backward conv"));
  // The shared weight waits for its second reader (fc_a, which runs backward after fc_b).
  CHECK(ready("shared.weight") > position(net.log, "backward fc_a"));
  // Unreached and unread params come at the end, zeroed.
  const int last_backward = position(net.log, "backward conv");
  CHECK(ready("dead.weight") > last_backward);
  CHECK(ready("unused.weight") > last_backward);
  for (const char* name : {"dead.weight", "unused.weight"}) {
    const Tensor& g = ex.grad(net.graph.at(name));
    for (int64_t i = 0; i < g.numel(); ++i) CHECK(g.data<double>()[i] == 0);
  }

  // Removing the hook: nothing fires any more.
  ex.set_grad_ready_hook(nullptr);
  fired.clear();
  ex.forward(in, Mode::train);
  ex.backward(net.loss);
  CHECK(fired.empty());
}

}  // namespace
}  // namespace mt
