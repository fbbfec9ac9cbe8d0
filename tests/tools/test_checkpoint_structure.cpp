// A pruned run (model.structure: FILE) keeps its structure in every checkpoint: the run
// evaluates and reports from its checkpoint alone once FILE is moved away.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "cli_run.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using mt::testing::run_morphtrain;

namespace {

// "test accuracy 12.50% (64 samples), loss 2.3026": the figures of one evaluation.
std::string accuracy_line(const std::string& output) {
  const size_t at = output.find("test accuracy ");
  if (at == std::string::npos) return {};
  return output.substr(at, output.find('\n', at) - at);
}

}  // namespace

TEST_CASE("a pruned run evaluates from its checkpoint after the structure file moved", "[cli][checkpoint]") {
  mt::testing::TempDir tmp("ckpt_structure");
  const fs::path structure = tmp.path / "pruned.json", moved = tmp.path / "elsewhere.json";
  // MorphNet's flat form: layer -> channels kept (16 -> 5); every other layer stays whole.
  std::ofstream(structure) << "{\"layer1.0.conv1\": 5}\n";
  const mt::testing::CliResult train = run_morphtrain(
      "--config configs/resnet20_fmnist.yaml --set output.root=" + tmp.path.string() +
      " --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic --set data.mean=[]"
      " --set data.std=[] --set data.synthetic_size=128 --set train.batch_size=32 --set train.epochs=1"
      " --set model.structure=" + structure.string());
  INFO(train.output);
  REQUIRE(train.exit_code == 0);
  const fs::path run = (*fs::directory_iterator(tmp.path / "resnet20_fmnist")).path();
  const fs::path ckpt = run / "checkpoints" / "ckpt-00000004";
  REQUIRE(fs::exists(ckpt / "structure.json"));

  const mt::testing::CliResult before = run_morphtrain("--evaluate " + run.string());
  INFO(before.output);
  REQUIRE(before.exit_code == 0);
  REQUIRE_FALSE(accuracy_line(before.output).empty());

  fs::rename(structure, moved);
  // The config alone no longer builds the model...
  const mt::testing::CliResult summary = run_morphtrain("--config " + (run / "config.yaml").string() + " --summary");
  CHECK(summary.exit_code != 0);
  CHECK_THAT(summary.output, Catch::Contains("pruned.json"));
  // ... the checkpoint does: the same architecture, weights and figures.
  const mt::testing::CliResult after = run_morphtrain("--evaluate " + run.string());
  INFO(after.output);
  CHECK(after.exit_code == 0);
  CHECK(accuracy_line(after.output) == accuracy_line(before.output));
  const mt::testing::CliResult report =
      run_morphtrain("--config " + (run / "config.yaml").string() + " --morph-report " + run.string() + " --json " +
                     (tmp.path / "report.json").string());
  INFO(report.output);
  CHECK(report.exit_code == 0);
  CHECK_THAT(report.output, Catch::Contains("ckpt-00000004"));

  // The stored copy is under the checkpoint's checksums: a flipped byte is refused, naming it.
  std::fstream f(ckpt / "structure.json", std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(3);
  f.put('X');
  f.close();
  const mt::testing::CliResult damaged = run_morphtrain("--evaluate " + run.string());
  CHECK(damaged.exit_code == 1);
  CHECK_THAT(damaged.output, Catch::Contains("structure.json") && Catch::Contains("CRC32 mismatch"));
}
