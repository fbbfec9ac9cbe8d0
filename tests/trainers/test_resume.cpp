// Resuming is exact: training 2 epochs in one go and 1 epoch + resume + 1 epoch give bit-identical
// weights, also when the interruption falls mid-epoch, with augmentation and dropout on.
#include <catch2/catch.hpp>

#include <cstring>
#include <sstream>

#include "core/random.h"
#include "kernels/backends.h"
#include "temp_dir.h"
#include "trainers/sgd.h"
#include "trainers/trainer.h"
#include "tests/trainers/banded_data.h"

using namespace mt;

namespace {

using testing::banded;

// Noise with a bright band whose row is the class: learnable in a few steps.
layers::Model small_model() {
  layers::ModelOptions o = testing::banded_resnet_options();
  o.dropout = 0.2;  // exercises the per-step seed
  o.seed = 7;
  return layers::build_model("resnet_cifar", o);
}

TrainOptions options(int64_t epochs) {
  TrainOptions t;
  t.epochs = epochs;
  t.batch_size = 16;
  t.eval_batch_size = 50;
  t.seed = 11;
  t.log_every = 5;
  t.augment.pad = 2;
  t.augment.hflip = true;
  return t;
}

const OptimizerFactory sgd = mt::testing::sgd_factory(5e-4);

LrSchedule schedule() {
  LrScheduleConfig c;
  c.base_lr = 0.05;
  c.warmup_steps = 4;
  return LrSchedule(c);
}

// Every parameter and buffer byte for byte.
void require_identical(const Graph& a, const Graph& b) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    INFO(sa[i].first);
    REQUIRE(sa[i].first == sb[i].first);
    const Tensor& x = sa[i].second; const Tensor& y = sb[i].second;
    REQUIRE(x.nbytes() == y.nbytes());
    CHECK(std::memcmp(x.raw(), y.raw(), x.nbytes()) == 0);
  }
}

}  // namespace

TEST_CASE("2 epochs equal 1 epoch, a resume, and 1 more", "[trainer][resume]") {
  const Dataset train = banded(96, 1), test = banded(40, 2);
  const Normalization norm{{0.3}, {0.3}};
  KernelBackend& cpu = backend_for(Device::cpu());
  const LrSchedule lr = schedule();

  layers::Model straight = small_model();
  Trainer whole(straight, cpu, sgd, lr, options(2), norm);
  const auto results = whole.fit(train, &test);
  REQUIRE(results.size() == 2);

  testing::TempDir dir("resume");
  CheckpointOptions co{(dir.path / "ckpt").string(), 2, "resnet_cifar"};
  std::ostringstream quiet;
  {
    layers::Model first_half = small_model();
    CheckpointManager checkpoints(co, quiet);
    Trainer first(first_half, cpu, sgd, lr, options(1), norm);
    first.set_checkpoints(&checkpoints);
    first.fit(train, &test);
  }
  layers::Model resumed = small_model();
  CheckpointManager checkpoints(co, quiet);
  Trainer second(resumed, cpu, sgd, lr, options(2), norm);
  const CheckpointLoad loaded = second.resume(checkpoints, "auto");
  CHECK(loaded.step == 6);
  const auto rest = second.fit(train, &test);
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].epoch == 2);
  CHECK(second.steps() == whole.steps());
  require_identical(straight.graph, resumed.graph);
  CHECK(rest[0].test.accuracy == results[1].test.accuracy);
}

TEST_CASE("a mid-epoch checkpoint resumes at the same batch", "[trainer][resume]") {
  const Dataset train = banded(96, 3);
  const Normalization norm{{0.3}, {0.3}};
  KernelBackend& cpu = backend_for(Device::cpu());
  const LrSchedule lr = schedule();

  layers::Model straight = small_model();
  Trainer whole(straight, cpu, sgd, lr, options(2), norm);
  whole.fit(train, nullptr);

  testing::TempDir dir("resume_mid");
  CheckpointOptions co{(dir.path / "ckpt").string(), 2, "resnet_cifar"};
  std::ostringstream quiet;
  {
    layers::Model part = small_model();
    CheckpointManager checkpoints(co, quiet);
    TrainOptions o = options(2);
    o.max_steps = 8;  // stops 2 batches into the second epoch
    Trainer first(part, cpu, sgd, lr, o, norm);
    first.set_checkpoints(&checkpoints);
    first.fit(train, nullptr);
    REQUIRE(first.steps() == 8);
  }
  layers::Model resumed = small_model();
  CheckpointManager checkpoints(co, quiet);
  Trainer second(resumed, cpu, sgd, lr, options(2), norm);
  CHECK(second.resume(checkpoints, "auto").step == 8);
  second.fit(train, nullptr);
  CHECK(second.steps() == 12);
  require_identical(straight.graph, resumed.graph);
}

TEST_CASE("resuming with another seed is refused", "[trainer][resume]") {
  const Dataset train = banded(48, 5);
  const Normalization norm{{0.3}, {0.3}};
  KernelBackend& cpu = backend_for(Device::cpu());
  const LrSchedule lr = schedule();
  testing::TempDir dir("resume_seed");
  CheckpointOptions co{(dir.path / "ckpt").string(), 2, "resnet_cifar"};
  std::ostringstream quiet;
  {
    layers::Model m = small_model();
    CheckpointManager checkpoints(co, quiet);
    Trainer t(m, cpu, sgd, lr, options(1), norm);
    t.set_checkpoints(&checkpoints);
    t.fit(train, nullptr);
  }
  layers::Model m = small_model();
  CheckpointManager checkpoints(co, quiet);
  TrainOptions o = options(2);
  o.seed = 12;
  Trainer t(m, cpu, sgd, lr, o, norm);
  CHECK_THROWS_WITH(t.resume(checkpoints, "auto"), Catch::Contains("seed 11") && Catch::Contains("same values"));
}

TEST_CASE("batch-norm recalibration re-estimates the running statistics and nothing else", "[trainer]") {
  const Dataset train = banded(64, 9);
  const Normalization norm{{0.3}, {0.3}};
  layers::Model m = small_model();
  const LrSchedule lr = schedule();
  Trainer t(m, backend_for(Device::cpu()), sgd, lr, options(1), norm);
  const auto before = m.graph.state_dict();
  std::vector<Tensor> copies;
  for (const auto& [name, x] : before) copies.push_back(x.clone());
  t.recalibrate_batchnorm(train, 3, 0);
  const auto after = m.graph.state_dict();
  int changed_stats = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    const bool same = std::memcmp(copies[i].raw(), after[i].second.raw(), copies[i].nbytes()) == 0;
    if (after[i].first.find("running_") != std::string::npos) changed_stats += !same;
    else if (after[i].first.find("num_batches") == std::string::npos) CHECK(same);  // weights untouched
  }
  CHECK(changed_stats > 0);
}
