// One ResNet-20 training step on the CPU backend and on the CUDA backend from identical weights
// (two graphs built with one seed; the second moved to the GPU): the loss, the logits, every
// parameter gradient, every parameter and buffer after one SGD step, and the logits of an eval
// forward after it (the GPU folds batch norms into the convolutions there) must agree within
// 1e-3. TF32 is off, so both run f32 arithmetic and differ by summation order only.
//
// NB: a pre-activation within rounding of zero (about 1e-6) may pass a ReLU on one backend and
// not on the other; that one element then changes the gradients of every earlier layer by up to
// a few percent, which is right on both backends. Such a batch compares nothing useful, so the
// test draws batches until the two backends agree on every activation's zero pattern.
#include "core/executor.h"
#include "kernels/cpu/cpu_backend.h"
#include "layers/zoo/model.h"
#include "tests/cuda/gpu_compare.h"
#include "trainers/sgd.h"

namespace mt::gputest {
namespace {

constexpr double kStepTol = 1e-3;
constexpr int64_t kBatch = 8;
constexpr int kBatchesToTry = 8;

struct Batch {
  Tensor images, labels;  // host f32 [N, C, S, S], i64 [N]
};

Batch random_batch(const layers::ModelOptions& o, uint64_t seed) {
  Rng rng(seed);
  Batch b{test::uniform({kBatch, o.in_channels, o.image_size, o.image_size}, rng).to(DType::f32),
          Tensor::empty(Shape{kBatch}, DType::i64)};
  for (int64_t n = 0; n < kBatch; ++n) b.labels.data<int64_t>()[n] = (n * 7 + 3) % o.num_classes;
  return b;
}

void check_close(const std::string& what, const Tensor& gpu_value, const Tensor& cpu_value,
                 double tol = kStepTol) {
  const Tensor got = to_host(gpu_value, gpu());
  const double err = max_rel_diff(got, cpu_value);
  INFO(what << ": rel diff " << err);
  CHECK(err < tol);
}

// The same model on both backends, from one set of weights.
struct Pair {
  layers::Model cpu_model, gpu_model;
  CpuBackend cpu;
  std::unique_ptr<Executor> cpu_exec, gpu_exec;

  explicit Pair(const layers::ModelOptions& o)
      : cpu_model(layers::build_model("resnet20", o)),
        gpu_model(layers::build_model("resnet20", o)) {
    const NamedTensors a = cpu_model.graph.state_dict(), b = gpu_model.graph.state_dict();
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i)
      REQUIRE(max_rel_diff(b[i].second, a[i].second) == 0);  // one seed, one model
    move_state_to(gpu_model.graph, gpu());
    cpu_exec = std::make_unique<Executor>(cpu_model.graph, cpu);
    gpu_exec = std::make_unique<Executor>(gpu_model.graph, gpu());
  }

  void forward(const Batch& batch, Mode mode) {
    cpu_exec->forward({batch.images, batch.labels}, mode);
    gpu_exec->forward({batch.images, batch.labels}, mode);
  }

  // Where the backends disagree on which activations are exactly zero (a ReLU that flipped),
  // in words; empty when they agree everywhere.
  std::string zero_pattern_difference() const {
    const Graph& g = cpu_model.graph;
    for (const auto& node : g.nodes())
      for (ValueId v : node.outputs) {
        const Tensor want = cpu_exec->value(v).to(Layout::nchw);
        const Tensor got = to_host(gpu_exec->value(v), gpu()).to(Layout::nchw);
        int64_t differ = 0;
        for (int64_t i = 0; i < want.numel(); ++i)
          differ += (got.data<float>()[i] == 0) != (want.data<float>()[i] == 0);
        if (differ > 0)
          return std::to_string(differ) + " element(s) of " + g.value(v).name + " " +
                 want.shape().str();
      }
    return "";
  }
};

// The gradient of every parameter, and that the CPU's are not all zero (a step that changed
// nothing would pass any comparison).
void check_grads(const Pair& p) {
  const auto& cpu_params = p.cpu_model.graph.params();
  const auto& gpu_params = p.gpu_model.graph.params();
  REQUIRE(cpu_params.size() == gpu_params.size());
  size_t nonzero = 0;
  for (size_t i = 0; i < cpu_params.size(); ++i) {
    const std::string& name = p.cpu_model.graph.value(cpu_params[i]).name;
    REQUIRE(p.gpu_model.graph.value(gpu_params[i]).name == name);
    const Tensor& want = p.cpu_exec->grad(cpu_params[i]);
    check_close("gradient of " + name, p.gpu_exec->grad(gpu_params[i]), want);
    nonzero += max_rel_diff(want, Tensor::zeros(want.shape())) > 0;
  }
  CHECK(nonzero > cpu_params.size() / 2);
}

void check_sgd_step(Pair& p) {
  SgdOptions sgd;
  sgd.lr = 0.1;
  sgd.momentum = 0.9;
  sgd.weight_decay = 5e-4;
  sgd.nesterov = true;
  Sgd cpu_opt(graph_params(p.cpu_model.graph, *p.cpu_exec), sgd);
  Sgd gpu_opt(graph_params(p.gpu_model.graph, *p.gpu_exec), sgd);
  cpu_opt.step(p.cpu);
  gpu_opt.step(gpu());
  const NamedTensors want = p.cpu_model.graph.state_dict(), got = p.gpu_model.graph.state_dict();
  REQUIRE(want.size() == got.size());
  for (size_t i = 0; i < want.size(); ++i)
    check_close("after the step: " + want[i].first, got[i].second, want[i].second);
}

void check_step(const layers::ModelOptions& o) {
  std::string last_difference;
  for (int attempt = 0; attempt < kBatchesToTry; ++attempt) {
    Pair p(o);
    const Batch batch = random_batch(o, 2024 + attempt);
    p.forward(batch, Mode::train);
    last_difference = p.zero_pattern_difference();
    if (!last_difference.empty()) {
      WARN("batch " << attempt << ": the backends' ReLUs differ on " << last_difference
                    << "; drawing another batch");
      continue;
    }
    p.cpu_exec->backward(p.cpu_model.loss);
    p.gpu_exec->backward(p.gpu_model.loss);
    check_close("loss", p.gpu_exec->value(p.gpu_model.loss), p.cpu_exec->value(p.cpu_model.loss));
    check_close("logits", p.gpu_exec->value(p.gpu_model.logits),
                p.cpu_exec->value(p.cpu_model.logits));
    check_grads(p);
    check_sgd_step(p);
    p.forward(batch, Mode::eval);
    check_close("eval logits after the step", p.gpu_exec->value(p.gpu_model.logits),
                p.cpu_exec->value(p.cpu_model.logits));
    check_close("eval loss after the step", p.gpu_exec->value(p.gpu_model.loss),
                p.cpu_exec->value(p.cpu_model.loss));
    return;
  }
  // A flip or two per batch is rounding; one in every batch points at a kernel.
  FAIL("in " << kBatchesToTry << " batches the backends never agreed on every ReLU; last: "
             << last_difference);
}

}  // namespace

TEST_CASE("a ResNet-20 training step on the GPU matches the CPU backend", "[cuda][resnet]") {
  layers::ModelOptions o;
  o.seed = 17;
  SECTION("CIFAR shape 3x32x32") { check_step(o); }
  SECTION("Fashion-MNIST shape 1x28x28") {
    o.in_channels = 1;
    o.image_size = 28;
    check_step(o);
  }
  SECTION("3x32x32 with FiGS gates") {
    o.gating = true;
    o.gate_temperature = 0.5;  // soft gates: their logits get gradients worth comparing
    check_step(o);
  }
}

}  // namespace mt::gputest
