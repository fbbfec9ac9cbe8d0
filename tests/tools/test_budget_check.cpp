// A budget the network cannot reach, or a rounding table that is not one, is reported before
// anything trains, with the numbers.
#include <catch2/catch.hpp>

#include <filesystem>

#include "temp_dir.h"
#include "tests/tools/cli_run.h"
#include "tools/config.h"
#include "tools/experiment.h"
#include "tools/morph_setup.h"

using namespace mt;
using Catch::Contains;

TEST_CASE("an unreachable budget stops the run before its directory exists", "[cli][morph][budget]") {
  testing::TempDir tmp("budget");
  const std::string args =
      "--config configs/resnet20_fmnist_morph.yaml --set output.root=" + tmp.path.string() +
      " --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic"
      " --set data.synthetic_size=64 --set train.batch_size=32 --set morph.target.fraction=0.001";
  const testing::CliResult r = testing::run_morphtrain(args);
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("morph.target.fraction 0.001 cannot be reached") && Contains("FLOPs are still") &&
                           Contains("hint: aim at"));
  CHECK(std::filesystem::is_empty(tmp.path));  // no run directory
}

TEST_CASE("a reachable budget passes the check, for MorphNet and ResRep", "[tools][morph][budget]") {
  testing::TempDir tmp("budget_ok");
  for (const char* method : {"gamma", "resrep"}) {
    const tools::Config c =
        tools::Config::load("configs/resnet20_fmnist_morph.yaml",
                            {"data.dataset=synthetic", "morph.target.fraction=0.3", std::string("morph.method=") + method});
    const tools::DataSplits data = tools::load_data(c);
    const layers::Model m = layers::build_model("resnet20", tools::model_options(c, data.train));
    CHECK_NOTHROW(tools::check_budget_reachable(c, m));
  }
}

TEST_CASE("rounding by a table that morph.hardware does not name stops the run before its directory exists",
          "[cli][morph][budget]") {
  testing::TempDir tmp("round_table");
  const std::string args =
      "--config configs/resnet20_fmnist_morph.yaml --set output.root=" + tmp.path.string() +
      " --set data.dataset=synthetic --set data.synthetic_size=64 --set train.batch_size=32"
      " --set pipeline.round_widths=table --set morph.hardware=V100";
  const testing::CliResult r = testing::run_morphtrain(args);
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("resnet20_fmnist_morph.yaml") && Contains("pipeline.round_widths: table") &&
                           Contains("morph.hardware") && Contains("'V100'"));
  CHECK(std::filesystem::is_empty(tmp.path));

  // With the committed table it is accepted.
  const tools::Config c = tools::Config::load(
      "configs/resnet20_fmnist_morph.yaml",
      {"pipeline.round_widths=table", "morph.hardware=configs/hardware/resnet20_fmnist_2core.json"});
  CHECK(tools::width_table(c) != nullptr);
}
