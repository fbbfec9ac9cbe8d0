// `morphtrain --export OUT --from RUN`: a dense run's and a structure-file run's checkpointed model
// as safetensors (the checkpoint's tensors, under their names) and as ONNX (validated and run by
// tests/parity/check_onnx.py against morphtrain's logits for the same weights, which model.weights
// reads back from the exported safetensors). The pipeline's slim model is exported in test_cli.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "cli_run.h"
#include "core/random.h"
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
using testing::run_morphtrain;

namespace {

const char* kTinyRun =
    " --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic --set data.mean=[]"
    " --set data.std=[] --set data.synthetic_size=128 --set train.batch_size=32 --set train.epochs=1";

// Trains a tiny run (extra: more --set flags) and returns its directory.
fs::path tiny_run(const testing::TempDir& tmp, const std::string& extra) {
  const testing::CliResult r = run_morphtrain("--config configs/resnet20_fmnist.yaml --set output.root=" +
                                              tmp.path.string() + kTinyRun + extra);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  return (*fs::directory_iterator(tmp.path / "resnet20_fmnist")).path();
}

// Exports the run both ways and checks each file against the run's best checkpoint.
void check_exports(const testing::TempDir& tmp, const fs::path& run, const std::string& label) {
  const fs::path tensors_out = tmp.path / (label + ".safetensors"), onnx_out = tmp.path / (label + ".onnx");
  for (const fs::path& out : {tensors_out, onnx_out}) {
    const testing::CliResult r = run_morphtrain("--export " + out.string() + " --from " + run.string());
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Contains("exported resnet_cifar") && Contains("(step 4)"));
  }
  const fs::path best = run / "checkpoints" / "ckpt-00000004";
  const SafetensorsContent exported = read_safetensors(tensors_out.string());
  CHECK(testing::same_named_tensors(exported.tensors, read_safetensors((best / "model.safetensors").string()).tensors));
  CHECK(exported.metadata.at("format") == "pt");

  // The exported weights, read back by model.weights into the run's own config, and the ONNX
  // graph give the same logits.
  const tools::Config c = tools::Config::load((run / "config.yaml").string(), {"model.weights=" + tensors_out.string()});
  layers::Model m = tools::configured_model(c, tools::load_data(c).train);
  Rng rng(3);
  Tensor images = Tensor::empty({3, 1, 28, 28}, DType::f64);
  for (int64_t i = 0; i < images.numel(); ++i) images.data<double>()[i] = rng.uniform(-1, 1);
  Tensor images32 = Tensor::empty(images.shape());
  images32.copy_from(images);
  const Tensor logits = test::eval_logits(m, images32);
  if (!testing::onnx_available()) {
    WARN("SKIPPED: python3-onnx cannot be imported by /usr/bin/python3; the ONNX export is not checked");
    return;
  }
  testing::write_npy(tmp.path / "images.npy", images32);
  testing::write_npy(tmp.path / "expected.npy", logits);
  testing::run_python("tests/parity/check_onnx.py", onnx_out.string() + " " + (tmp.path / "images.npy").string() +
                                                        " " + (tmp.path / "expected.npy").string() + " --tol 1e-4");
}

}  // namespace

TEST_CASE("export command: writes a dense run's checkpoint as safetensors and ONNX", "[cli][export]") {
  testing::TempDir tmp("export_dense");
  const fs::path run = tiny_run(tmp, "");
  check_exports(tmp, run, "dense");
}

TEST_CASE("export command: writes a structure-file run's pruned model with its structure", "[cli][export]") {
  testing::TempDir tmp("export_structure");
  const fs::path structure = tmp.path / "pruned.json";
  std::ofstream(structure) << "{\"layer1.0.conv1\": 5}\n";
  const fs::path run = tiny_run(tmp, " --set model.structure=" + structure.string());
  check_exports(tmp, run, "pruned");
  const SafetensorsContent exported = read_safetensors((tmp.path / "pruned.safetensors").string());
  CHECK_THAT(exported.metadata.at("structure"), Contains("layer1.0.conv1"));
  bool found = false;
  for (const auto& [name, t] : exported.tensors)
    if (name == "layer1.0.conv1.weight") found = t.shape() == Shape{5, 16, 3, 3};
  CHECK(found);
}

TEST_CASE("export command: without a run it exports the config's model; bad uses exit 2", "[cli][export]") {
  testing::TempDir tmp("export_misc");
  const fs::path out = tmp.path / "fresh.onnx";
  testing::CliResult r = run_morphtrain("--config configs/resnet20_fmnist.yaml" + std::string(kTinyRun) +
                                        " --export " + out.string());
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("from fresh weights"));
  CHECK(fs::exists(out));

  r = run_morphtrain("--config configs/resnet20_fmnist.yaml" + std::string(kTinyRun) + " --export model.pt");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--export 'model.pt': the file name must end in .onnx or .safetensors"));
  r = run_morphtrain("--from " + tmp.path.string());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--from requires --export"));
  r = run_morphtrain("--config configs/resnet20_fmnist.yaml" + std::string(kTinyRun) + " --export " + out.string() +
                     " --from " + tmp.path.string());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("is neither a run directory"));
}
