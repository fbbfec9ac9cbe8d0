// Each torchvision network imported from ONNX goes through one short pipeline (a few steps of
// structure learning to half the FLOPs, reshape, one retrain epoch), and the slim ONNX it writes
// passes the checker and computes the slim model's logits (tests/parity/check_onnx.py). Where a
// network cannot be pruned by a method, the test asserts what the run says.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "core/safetensors.h"
#include "npy.h"
#include "python_env.h"
#include "temp_dir.h"
#include "tensor_compare.h"
#include "tests/morph/reshape_test_util.h"
#include "tools/config.h"
#include "tools/experiment.h"
#include "tools/training_phase.h"

namespace fs = std::filesystem;
using namespace mt;
using Catch::Contains;

namespace {

struct Exported {
  fs::path onnx, check;
};

Exported export_torchvision(const testing::TempDir& dir, const std::string& name, int64_t size) {
  testing::run_python("tests/parity/torch_onnx_models.py", dir.path.string() + " " + name + ":" + std::to_string(size));
  return {dir.path / (name + ".onnx"), dir.path / (name + ".check.safetensors")};
}

// A pipeline on 8 synthetic images of the network's size; extra: more YAML under morph.
testing::CliResult prune(const testing::TempDir& dir, const Exported& e, int64_t size, const std::string& method) {
  const fs::path config = dir.path / "prune.yaml";
  std::ofstream(config) << "name: onnx_prune\nseed: 0\nmodel:\n  name: onnx\n  onnx: " << e.onnx.string()
                        << "\n  input_shape: [3, " << size << ", " << size << "]\n"
                        << (method == "logistic_sigmoid" ? "  gating: true\n" : "")
                        << "data:\n  dataset: synthetic\n  synthetic_size: 8\n"
                           "train:\n  epochs: 1\n  batch_size: 4\noptim:\n  name: sgd\n  lr: 0.01\n"
                           "morph:\n  method: " << method << "\n  target:\n    cost: flops\n    fraction: 0.5\n"
                           "pipeline:\n  retrain: finetune\n  retrain_epochs: 1\n  benchmark_batch: 2\n"
                           "output:\n  root: " << (dir.path / "runs").string() << "\n";
  return testing::run_morphtrain("--config " + config.string());
}

// The slim model of the run (its structure, its retrained weights) against its slim.onnx.
void check_slim_onnx(const testing::TempDir& dir, const Exported& e) {
  const fs::path run = *fs::directory_iterator(dir.path / "runs" / "onnx_prune");
  std::ifstream in(run / "report.json");
  const nlohmann::json report = nlohmann::json::parse(in);
  // At most the budget, counting the channel a layer keeps where trimming emptied it (SqueezeNet's
  // squeeze layers, RegNet's projections: "emptied layers keep one channel each").
  const double ratio = report["costs"]["flops"]["ratio"].get<double>();
  CHECK(ratio <= 0.5);
  CHECK(ratio >= 0.4);
  const tools::Config c = tools::Config::load((run / "config.yaml").string(),
                                              {"model.structure=" + (run / "structure.json").string(),
                                               "model.weights=" + (run / "slim.safetensors").string()});
  layers::Model slim = tools::configured_model(c, tools::load_data(c).train);
  const SafetensorsContent check = read_safetensors(e.check.string());
  const Tensor& images = testing::named(check.tensors, "images");
  REQUIRE(images.rank() == 4);
  testing::write_npy(dir.path / "images.npy", images);
  testing::write_npy(dir.path / "expected.npy", test::eval_logits(slim, images));
  testing::run_python("tests/parity/check_onnx.py", (run / "slim.onnx").string() + " " +
                                                        (dir.path / "images.npy").string() + " " +
                                                        (dir.path / "expected.npy").string() + " --tol 1e-4");
}

void prune_and_check(const std::string& name, int64_t size, const std::string& method) {
  testing::TempDir dir("onnx_prune_" + name);
  const Exported e = export_torchvision(dir, name, size);
  const testing::CliResult r = prune(dir, e, size, method);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("model.onnx: loaded") && Contains("== reshape") && Contains("== report"));
  check_slim_onnx(dir, e);
}

}  // namespace

TEST_CASE("imported resnet18 and resnet50 prune to half the FLOPs and export slim", "[tools][onnx][torch][pipeline]") {
  MT_REQUIRE_TORCH();
  prune_and_check("resnet18", 32, "gamma");
  prune_and_check("resnet50", 32, "gamma");
}

TEST_CASE("imported mobilenet_v2 and mobilenet_v3_small prune to half the FLOPs and export slim",
          "[tools][onnx][torch][pipeline]") {
  MT_REQUIRE_TORCH();
  prune_and_check("mobilenet_v2", 32, "gamma");
  prune_and_check("mobilenet_v3_small", 32, "gamma");
}

TEST_CASE("imported vgg11_bn prunes to half the FLOPs and exports slim", "[tools][onnx][torch][pipeline]") {
  MT_REQUIRE_TORCH();
  prune_and_check("vgg11_bn", 224, "gamma");
}

TEST_CASE("imported squeezenet1_1 has no batch norm for gamma, and prunes with gates", "[tools][onnx][torch][pipeline]") {
  MT_REQUIRE_TORCH();
  testing::TempDir dir("onnx_prune_squeezenet_gamma");
  const Exported e = export_torchvision(dir, "squeezenet1_1", 64);
  const testing::CliResult r = prune(dir, e, 64, "gamma");
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("method 'gamma' found no sources") && Contains("needs batchnorm2d ops"));
  prune_and_check("squeezenet1_1", 64, "logistic_sigmoid");
}

TEST_CASE("imported densenet121, efficientnet_b0 and regnet_x_400mf prune to half the FLOPs and export slim",
          "[tools][onnx][torch][pipeline]") {
  MT_REQUIRE_TORCH();
  prune_and_check("densenet121", 32, "gamma");
  prune_and_check("regnet_x_400mf", 32, "gamma");
  prune_and_check("efficientnet_b0", 32, "gamma");
}
