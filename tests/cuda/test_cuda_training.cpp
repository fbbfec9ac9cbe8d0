// The training loop on the GPU, end to end, against the same run on the CPU: a Trainer with
// structure learning (gamma with the proximal step, group lasso through the gradient), its
// evaluation, its checkpoints and the weights it hands back. It trains on backend_for(cuda:0), the
// backend a run uses (TF32 on, as `device: cuda` trains), so the runs agree within TF32 rounding
// compounded over a few steps, not bit for bit: the checks compare epoch figures with tolerances
// that a wrong gradient, a lost regularizer term or a stale copy would break by far.
#include <cmath>
#include <sstream>

#include "kernels/backends.h"
#include "morph/network_regularizer.h"
#include "temp_dir.h"
#include "tests/cuda/gpu_compare.h"
#include "tests/trainers/banded_data.h"
#include "trainers/checkpoint.h"
#include "trainers/morph_hook.h"
#include "trainers/trainer.h"

namespace mt::gputest {
namespace {

const Normalization kNorm{{0.3}, {0.3}};

TrainOptions options(int64_t epochs) {
  TrainOptions t;
  t.epochs = epochs;
  t.batch_size = 16;
  t.eval_batch_size = 20;
  t.seed = 5;
  return t;
}

LrSchedule schedule() {
  LrScheduleConfig c;
  c.base_lr = 0.05;
  return LrSchedule(c);
}

layers::Model small_resnet() {
  layers::ModelOptions o = testing::banded_resnet_options();
  o.seed = 3;
  return layers::build_model("resnet_cifar", o);
}

struct Run {
  std::vector<EpochResult> epochs;
  double term = 0;         // the regularizer's term at the end
  double initial_term = 0;
  bool weights_on_host = false;
};

// 3 epochs of 6 steps with structure learning at a strength that moves the term visibly.
Run learn(Device device, morph::Method method) {
  layers::Model m = small_resnet();
  morph::RegularizerOptions ro;
  ro.method = method;
  ro.backend = &backend_for(device);  // the trainer's: the row ops run where the params live
  auto regularizer = morph::make_regularizer(m.graph, m.logits, ro);
  Run run;
  run.initial_term = regularizer->regularization_term();
  MorphHookOptions ho;
  ho.strength = 1e2 / run.initial_term;
  ho.proximal = method == morph::Method::gamma;
  MorphHook hook(std::move(regularizer), ho);
  {
    Trainer trainer(m, backend_for(device), testing::sgd_factory(5e-4), schedule(), options(3), kNorm);
    trainer.add_hook(&hook);
    run.epochs = trainer.fit(testing::banded(96, 1), nullptr);
  }
  run.term = hook.regularizer().regularization_term();  // after the trainer handed the weights back
  run.weights_on_host = true;
  for (ValueId p : m.graph.params()) run.weights_on_host &= m.graph.value(p).data.device() == Device::cpu();
  return run;
}

double rel(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-12); }

}  // namespace

TEST_CASE("structure learning on the GPU follows the same run on the CPU", "[cuda][trainer]") {
  for (const morph::Method method : {morph::Method::gamma, morph::Method::group_lasso}) {
    INFO(morph::method_name(method));
    const Run cpu = learn(Device::cpu(), method);
    const Run gpu = learn(Device::cuda(0), method);
    REQUIRE(cpu.epochs.size() == 3);
    REQUIRE(gpu.epochs.size() == 3);
    CHECK(gpu.weights_on_host);
    CHECK(gpu.initial_term == cpu.initial_term);  // one seed, one model, measured on the host
    for (size_t e = 0; e < 3; ++e) {
      INFO("epoch " << e + 1 << ": train loss GPU " << gpu.epochs[e].train.loss << ", CPU " << cpu.epochs[e].train.loss);
      CHECK(rel(gpu.epochs[e].train.loss, cpu.epochs[e].train.loss) < 0.05);
      CHECK(std::abs(gpu.epochs[e].train.accuracy - cpu.epochs[e].train.accuracy) < 0.1);
    }
    // The regularizer acted on the GPU as on the CPU: its term moved, and to about the same place.
    INFO("term GPU " << gpu.term << ", CPU " << cpu.term << ", initially " << cpu.initial_term);
    CHECK(rel(cpu.term, cpu.initial_term) > 0.05);
    CHECK(rel(gpu.term, cpu.term) < 0.05);
  }
}

TEST_CASE("a checkpoint written while training on the GPU evaluates the same on the CPU", "[cuda][trainer]") {
  const Dataset train = testing::banded(96, 1), test = testing::banded(40, 2);
  testing::TempDir dir("cuda_checkpoint");
  const CheckpointOptions co{(dir.path / "ckpt").string(), 2, "resnet_cifar"};
  std::ostringstream quiet;
  EvalResult on_gpu;
  {
    layers::Model m = small_resnet();
    CheckpointManager checkpoints(co, quiet);
    Trainer trainer(m, backend_for(Device::cuda(0)), testing::sgd_factory(), schedule(), options(2), kNorm);
    trainer.set_checkpoints(&checkpoints);
    const auto epochs = trainer.fit(train, &test);
    REQUIRE(epochs.size() == 2);
    on_gpu = trainer.evaluate(test);
    CHECK(on_gpu.accuracy == epochs.back().test.accuracy);
  }
  layers::Model reloaded = small_resnet();
  CheckpointManager checkpoints(co, quiet);
  const auto none = [](std::vector<ParamRef>) { return std::unique_ptr<Optimizer>(); };
  Trainer cpu(reloaded, backend_for(Device::cpu()), none, schedule(), options(2), kNorm);
  const CheckpointLoad loaded = cpu.resume(checkpoints, "auto");
  CHECK(loaded.step == 12);
  const EvalResult on_cpu = cpu.evaluate(test);
  INFO("test loss GPU " << on_gpu.loss << ", CPU " << on_cpu.loss);
  CHECK(on_cpu.samples == on_gpu.samples);
  CHECK(rel(on_cpu.loss, on_gpu.loss) < 1e-2);
  CHECK(std::abs(on_cpu.accuracy - on_gpu.accuracy) <= 1.0 / 40);  // one sample at most
}

}  // namespace mt::gputest
