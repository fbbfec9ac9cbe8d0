// From the command line: a batch norm whose running statistics go non-finite stops the run at
// that step with exit 1, and the run directory holds nonfinite_report.json naming the tensor.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using mt::testing::run_morphtrain;

TEST_CASE("non-finite running statistics from the command line: exit 1 and a report", "[cli][train][nonfinite]") {
  mt::testing::TempDir tmp("cli_nonfinite");
  const std::string base =
      "--config configs/resnet20_fmnist.yaml --set output.root=" + tmp.path.string() +
      " --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic"
      " --set data.synthetic_size=128 --set data.mean=[0.5] --set data.std=[0.25] --set train.batch_size=32"
      " --set train.epochs=1"
      " --set debug.inject_nonfinite_at_step=3 --set debug.inject_nonfinite_into=running_statistics";
  const mt::testing::CliResult r = run_morphtrain(base);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("batch-norm running statistics are not finite at step 3") &&
                           Catch::Contains("bn1.running_mean"));
  const fs::path run = (*fs::directory_iterator(tmp.path / "resnet20_fmnist")).path();
  REQUIRE(fs::exists(run / "nonfinite_report.json"));
  std::ifstream in(run / "nonfinite_report.json");
  const nlohmann::json report = nlohmann::json::parse(in);
  CHECK(report["step"] == 3);
  CHECK(report["first"]["kind"] == "running statistic");
  CHECK_THAT(report["first"]["tensor"].get<std::string>(), Catch::EndsWith(".running_mean"));
  CHECK_FALSE(fs::exists(run / "checkpoints" / "last"));

  const mt::testing::CliResult skip = run_morphtrain(base + " --set train.on_nonfinite=skip_step --set name=skip");
  INFO(skip.output);
  CHECK(skip.exit_code == 0);
  CHECK_THAT(skip.output, Catch::Contains("skipped 1 steps"));
  // The skipped step left finite statistics: the checkpoint saved at the epoch's end exists.
  const fs::path skip_run = (*fs::directory_iterator(tmp.path / "skip")).path();
  CHECK(fs::exists(skip_run / "checkpoints" / "ckpt-00000004"));
}
