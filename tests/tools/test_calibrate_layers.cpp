// `morphtrain --calibrate FILE --config CFG`: the per-layer latency table of the config's model,
// written as morph.hardware reads it, then used by the latency target.
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "temp_dir.h"

using Catch::Contains;

TEST_CASE("per-layer calibration measures every layer shape once and feeds the latency target", "[cli][latency]") {
  mt::testing::TempDir tmp("calibrate_layers");
  const std::string table = (tmp.path / "table.json").string();
  const std::string model =
      " --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic --set data.mean=[]"
      " --set data.std=[] --set data.synthetic_size=64 --set pipeline.benchmark_batch=4";
  const mt::testing::CliResult r =
      mt::testing::run_morphtrain("--calibrate " + table + " --config configs/resnet20_fmnist_morph.yaml" + model);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("calibrate: layer 1 of ") && Contains("layer shapes measured"));
  std::ifstream in(table);
  const nlohmann::json j = nlohmann::json::parse(in);
  CHECK(j["format"] == "morphtrain.latency_table");
  CHECK(j["batch"] == 4);
  // ResNet-8 on 1x28x28: the stem, one block per stage (two shapes each where the stride or the
  // width changes) and the classifier; repeated shapes measured once.
  REQUIRE(j["layers"].size() >= 5);
  for (const nlohmann::json& l : j["layers"]) {
    INFO(l["key"]);
    CHECK(l["ns"].size() == l["in"].size());
    for (const nlohmann::json& row : l["ns"])
      for (const nlohmann::json& v : row) CHECK(v.get<double>() > 0);
  }
  const mt::testing::CliResult report = mt::testing::run_morphtrain(
      "--config configs/resnet20_fmnist_morph.yaml" + model + " --morph-report --set morph.target.cost=latency" +
      " --set morph.hardware=" + table + " --json " + (tmp.path / "report.json").string());
  INFO(report.output);
  CHECK(report.exit_code == 0);
  CHECK_THAT(report.output, Contains("Latency"));
}
