// Errors as a user meets them on the command line: a structure file nested deep enough to crash a
// recursive reader is a config error, command-line mistakes exit 2 like config mistakes, and no
// message shows a path of our sources.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cli_run.h"
#include "core/error.h"
#include "morph/structure_file.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using mt::testing::run_morphtrain;

namespace {

// A user never reads where in our sources a check sits ("... (/src/tools/pipeline.cpp:172)").
bool shows_source_path(const std::string& output) {
  for (const char* ext : {".cpp:", ".h:", ".cu:"})
    if (output.find(ext) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("a structure file nested 100000 levels deep is rejected with a clear error", "[cli][morph]") {
  mt::testing::TempDir tmp("deep");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  // model.structure names a structure file: a nested value where the reader reports the format.
  const fs::path structure = tmp.path / "deep.json";
  std::ofstream(structure) << "{\"format\": " << deep << "}";
  mt::layers::ModelOptions options;
  const mt::layers::Model dense = mt::layers::build_model("resnet20", options);
  CHECK_THROWS_WITH(mt::morph::read_structure(structure.string(), dense),
                    Catch::Contains("deep.json") && Catch::Contains("nested deeper than"));
  // A merely odd format is described, not dumped whole.
  std::ofstream(structure, std::ios::trunc) << "{\"format\": \"" << std::string(5000, 'x') << "\"}";
  try {
    mt::morph::read_structure(structure.string(), dense);
    FAIL("accepted");
  } catch (const mt::ConfigError& e) {
    CHECK(std::string(e.what()).size() < 300);
  }
  // The same through the command line: a config error, exit 2.
  std::ofstream(structure, std::ios::trunc) << "{\"format\": " << deep << "}";
  const auto r = run_morphtrain("--config configs/resnet20_fmnist.yaml --set data.dataset=synthetic --set output.root=" +
                       (tmp.path / "runs").string() + " --set model.structure=" + structure.string());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("deep.json") && Catch::Contains("nested deeper than"));
  CHECK_FALSE(fs::exists(tmp.path / "runs"));
}

TEST_CASE("command-line errors exit 2", "[cli]") {
  auto r = run_morphtrain("--config /nonexistent/experiment.yaml");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("/nonexistent/experiment.yaml"));
  r = run_morphtrain("--config configs/resnet20_fmnist.yaml --no-such-flag");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("--no-such-flag"));
  r = run_morphtrain("--config");
  CHECK(r.exit_code == 2);
  CHECK(run_morphtrain("--help").exit_code == 0);
}

TEST_CASE("no user-facing message shows a source path", "[cli]") {
  mt::testing::TempDir tmp("paths");
  const fs::path root = tmp.path / "runs";
  std::ofstream(tmp.path / "bad.yaml") << "train:\n  batchsize: 4\n";
  for (const std::string& args : {
           "--config " + (tmp.path / "bad.yaml").string(),                                        // ConfigError
           "--config configs/resnet20_fmnist.yaml --set data.path=/nonexistent --set output.root=" + root.string(),
           "--evaluate " + (tmp.path / "nowhere").string(),
           std::string("--config configs/resnet20_fmnist.yaml --set optim.lr=abc"),
       }) {
    INFO(args);
    const auto r = run_morphtrain(args);
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, Catch::Contains("morphtrain: "));
    CHECK_FALSE(shows_source_path(r.output));
  }
  // A developer asks for the location.
  const auto debug = run_morphtrain("--config " + (tmp.path / "bad.yaml").string(), "MORPHTRAIN_DEBUG=1");
  const std::string out = debug.output;
  CHECK_THAT(out, Catch::Contains("thrown at") && Catch::Contains("config.cpp:"));
}
