// Non-finite batch-norm running statistics are caught at the step they appear, checked with the
// gradient; a skipped step leaves no trace in them; nonfinite_report.json names the first tensor.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <sstream>

#include "kernels/backends.h"
#include "temp_dir.h"
#include "trainers/trainer.h"
#include "tests/trainers/banded_data.h"

using namespace mt;
namespace fs = std::filesystem;

namespace {

layers::Model small_model() {
  layers::ModelOptions o = testing::banded_resnet_options();
  o.seed = 7;
  return layers::build_model("resnet_cifar", o);
}

TrainOptions options(int64_t max_steps, int64_t inject_at, bool into_statistics, bool skip) {
  TrainOptions t;
  t.epochs = 1;
  t.batch_size = 16;
  t.seed = 11;
  t.max_steps = max_steps;
  t.inject_nonfinite_at_step = inject_at;
  t.inject_into_statistics = into_statistics;
  t.skip_nonfinite_steps = skip;
  return t;
}

LrSchedule schedule() {
  LrScheduleConfig c;
  c.base_lr = 0.05;
  return LrSchedule(c);
}

// The first floating-point buffer in the model's order: where the injection lands.
std::string first_statistic(const Graph& g) {
  for (ValueId b : g.buffers())
    if (g.value(b).data.dtype() == DType::f32) return g.value(b).name;
  return {};
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

bool identical(const Graph& a, const Graph& b) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  if (sa.size() != sb.size()) return false;
  for (size_t i = 0; i < sa.size(); ++i) {
    const Tensor& x = sa[i].second; const Tensor& y = sb[i].second;
    if (sa[i].first != sb[i].first || x.nbytes() != y.nbytes() || std::memcmp(x.raw(), y.raw(), x.nbytes()) != 0) {
      UNSCOPED_INFO("differs: " << sa[i].first);
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("a non-finite running statistic stops the run at its step and is reported", "[trainer][nonfinite]") {
  const Dataset train = testing::banded(96, 1);
  const Normalization norm{{0.3}, {0.3}};
  KernelBackend& cpu = backend_for(Device::cpu());
  testing::TempDir dir("nonfinite_stop");
  std::ostringstream quiet;
  RunLogger logger(quiet, dir.path.string());
  layers::Model model = small_model();
  const std::string poisoned = first_statistic(model.graph);
  REQUIRE(poisoned.find("running_") != std::string::npos);
  Trainer trainer(model, cpu, testing::sgd_factory(), schedule(), options(0, 3, true, false), norm);
  trainer.set_logger(&logger);
  CHECK_THROWS_WITH(trainer.fit(train, nullptr), Catch::Contains("batch-norm running statistics are not finite at step 3") &&
                                                     Catch::Contains(poisoned));
  CHECK(trainer.steps() == 2);
  REQUIRE(fs::exists(dir.path / "nonfinite_report.json"));
  const nlohmann::json report = read_json(dir.path / "nonfinite_report.json");
  CHECK(report["step"] == 3);
  CHECK(report["action"] == "stopped");
  CHECK(report["first"]["tensor"] == poisoned);
  CHECK(report["first"]["layer"] == poisoned.substr(0, poisoned.rfind('.')));
  CHECK(report["first"]["kind"] == "running statistic");
  CHECK(report["count"] == 1);  // the gradients were finite
}

TEST_CASE("a skipped step leaves the running statistics as they were", "[trainer][nonfinite]") {
  const Dataset train = testing::banded(96, 1);
  const Normalization norm{{0.3}, {0.3}};
  KernelBackend& cpu = backend_for(Device::cpu());
  const bool into_statistics = GENERATE(false, true);
  INFO((into_statistics ? "a running statistic" : "a gradient") << " poisoned at step 3");
  testing::TempDir dir("nonfinite_skip");
  std::ostringstream quiet;
  RunLogger logger(quiet, dir.path.string());

  // Three steps, the third skipped, must end where two steps end: weights, optimizer, statistics.
  layers::Model skipped = small_model();
  Trainer a(skipped, cpu, testing::sgd_factory(), schedule(), options(3, 3, into_statistics, true), norm);
  a.set_logger(&logger);
  a.fit(train, nullptr);
  CHECK(a.skipped_steps() == 1);
  layers::Model two = small_model();
  Trainer b(two, cpu, testing::sgd_factory(), schedule(), options(2, 0, false, true), norm);
  b.fit(train, nullptr);
  CHECK(identical(skipped.graph, two.graph));

  const nlohmann::json report = read_json(dir.path / "nonfinite_report.json");
  CHECK(report["step"] == 3);
  CHECK(report["action"] == "skipped");
  CHECK(report["first"]["kind"] == (into_statistics ? "running statistic" : "gradient"));
}
