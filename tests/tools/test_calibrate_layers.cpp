// `morphtrain --calibrate FILE --config CFG`: the per-layer latency table of the config's model,
// written as morph.hardware reads it, then used by the latency target.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "npy.h"
#include "python_env.h"
#include "temp_dir.h"

using Catch::Contains;

namespace {

// ResNet-8 on synthetic data, measured at batch 4: a calibration of seconds.
const std::string kResnet8 =
    " --config configs/resnet20_fmnist_morph.yaml --set model.name=resnet_cifar --set model.depth=8"
    " --set data.dataset=synthetic --set data.mean=[] --set data.std=[] --set data.synthetic_size=64"
    " --set pipeline.benchmark_batch=4";

mt::testing::CliResult calibrate(const std::string& table) { return mt::testing::run_morphtrain("--calibrate " + table + kResnet8); }

// --morph-report of ResNet-8's latency under `table`, its JSON written to `json`.
mt::testing::CliResult latency_report(const std::string& table, const std::string& json) {
  return mt::testing::run_morphtrain(kResnet8.substr(1) + " --morph-report --set morph.target.cost=latency" +
                                     " --set morph.hardware=" + table + " --json " + json);
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("per-layer calibration measures every layer shape once and feeds the latency target", "[cli][latency]") {
  mt::testing::TempDir tmp("calibrate_layers");
  const std::string table = (tmp.path / "table.json").string();
  const mt::testing::CliResult r = calibrate(table);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("calibrate: layer 1 of ") && Contains("layer shapes measured"));
  const nlohmann::json j = read_json(table);
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
  const mt::testing::CliResult report = latency_report(table, (tmp.path / "report.json").string());
  INFO(report.output);
  CHECK(report.exit_code == 0);
  CHECK_THAT(report.output, Contains("Latency"));
}

// bench/ort_latency_table.py: a table measured in another runtime (ONNX Runtime) from the cells of
// morphtrain's own, in the same format. The timings are made up here (node may be absent): cell
// (in, out) takes 1000 * in + out ns, so the latency target's cost of each conv and linear layer
// at its dense widths is known exactly and shows the file was read cell for cell.
TEST_CASE("a latency table measured elsewhere loads as morphtrain's own does", "[cli][latency]") {
  if (!mt::testing::onnx_available()) {
    WARN("SKIPPED: /usr/bin/python3 cannot import onnx (bash scripts/test.sh installs python3-onnx)");
    return;
  }
  mt::testing::TempDir tmp("ort_table");
  const std::string work = tmp.path.string(), template_table = work + "/template.json", table = work + "/ort.json";
  const mt::testing::CliResult r = calibrate(template_table);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  mt::testing::run_python("bench/ort_latency_table.py", "models " + template_table + " " + work);

  const nlohmann::json manifest = read_json(work + "/manifest.json");
  const nlohmann::json tmpl = read_json(template_table);
  size_t cells = 0;
  for (const nlohmann::json& l : tmpl["layers"]) cells += l["in"].size() * l["out"].size();
  REQUIRE(manifest["cells"].size() == cells);
  {
    std::ofstream timings(work + "/timings.jsonl");
    for (const nlohmann::json& c : manifest["cells"]) {
      const nlohmann::json& layer = tmpl["layers"][c["layer"].get<size_t>()];
      const double in = layer["in"][c["i"].get<size_t>()], out = layer["out"][c["j"].get<size_t>()];
      timings << nlohmann::json{{"file", c["file"]}, {"ns", 1000 * in + out}}.dump() << "\n";
      CHECK(std::filesystem::exists(c["file"].get<std::string>()));
    }
  }
  mt::testing::run_python("bench/ort_latency_table.py",
                          "table " + template_table + " " + work + " " + work + "/timings.jsonl " + table + " test-runtime");

  const std::string json = work + "/report.json";
  const mt::testing::CliResult report = latency_report(table, json);
  INFO(report.output);
  REQUIRE(report.exit_code == 0);
  const nlohmann::json j = read_json(json);
  CHECK_THAT(j["cost_name"].get<std::string>(), Contains("test-runtime"));
  int tabled = 0;
  for (const nlohmann::json& op : j["ops"]) {
    if (op["kind"] != "conv2d" && op["kind"] != "linear") continue;
    INFO(op["name"]);
    CHECK(op["cost"].get<double>() == Approx(1000.0 * op["in"].get<double>() + op["out"].get<double>()));
    ++tabled;
  }
  CHECK(tabled >= 5);

  // A template that is not a per-layer table is refused with its name.
  std::ofstream(work + "/roofline.json") << R"({"format": "morphtrain.latency_table", "name": "x"})";
  const std::string cmd = "/usr/bin/python3 bench/ort_latency_table.py models " + work + "/roofline.json " + work +
                          " > " + work + "/err.txt 2>&1";
  CHECK(std::system(cmd.c_str()) != 0);
  std::ifstream err_in(work + "/err.txt");
  const std::string err((std::istreambuf_iterator<char>(err_in)), std::istreambuf_iterator<char>());
  CHECK_THAT(err, Contains("roofline.json") && Contains("per-layer"));
}
