// The run directory has one writer at a time, and readers beside it change nothing: --evaluate and
// --morph-report on a run that is still training leave its in-progress `*.tmp` save alone, and a
// second `--resume auto` of the same run refuses instead of interfering.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cli_run.h"
#include "temp_dir.h"
#include "tools/run_lock.h"

namespace fs = std::filesystem;
using mt::testing::run_morphtrain;

TEST_CASE("a run directory's lock admits one writer", "[cli]") {
  mt::testing::TempDir tmp("lock");
  {
    mt::tools::RunDirLock first(tmp.path);
    CHECK_THROWS_WITH(mt::tools::RunDirLock(tmp.path),
                      Catch::Contains(tmp.path.string()) && Catch::Contains("is in use"));
  }
  CHECK_NOTHROW(mt::tools::RunDirLock(tmp.path));  // released with its holder
  CHECK(tmp.entries().empty());                     // and it leaves no file behind
}

TEST_CASE("readers leave a live run alone and a second writer refuses", "[cli][train]") {
  mt::testing::TempDir tmp("live");
  const std::string base =
      "--config configs/resnet20_fmnist.yaml --set output.root=" + tmp.path.string() +
      " --set name=live --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic"
      " --set data.synthetic_size=128 --set train.batch_size=32 --set checkpoint.every_steps=1"
      " --set schedule.warmup_steps=0";
  auto r = run_morphtrain(base + " --set train.max_steps=2");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const fs::path runs = tmp.path / "live";
  const fs::path dir = (*fs::directory_iterator(runs)).path();
  const fs::path ckpts = dir / "checkpoints";
  REQUIRE(fs::exists(ckpts / "last"));

  // The trainer's save in progress, as a reader finds it.
  fs::create_directories(ckpts / "ckpt-00000003.tmp");
  std::ofstream(ckpts / "ckpt-00000003.tmp" / "model.safetensors") << "partial";
  auto listing = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(dir)) names.push_back(e.path().string());
    std::sort(names.begin(), names.end());
    return names;
  };
  const std::vector<std::string> before = listing();

  r = run_morphtrain("--evaluate " + dir.string());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("test accuracy"));
  r = run_morphtrain("--config " + (dir / "config.yaml").string() + " --morph-report " + dir.string() + " --json " +
          (tmp.path / "report.json").string());
  CHECK(r.exit_code == 0);
  CHECK(listing() == before);  // the `*.tmp` is still there, nothing else changed

  {
    // The run is still training (this process holds its lock): a second writer refuses.
    mt::tools::RunDirLock trainer(dir);
    r = run_morphtrain(base + " --set train.max_steps=4 --resume auto");
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Catch::Contains(dir.string()) && Catch::Contains("is in use"));
    CHECK(listing() == before);
  }
  // Once it is done, a resume owns the run and cleans up after the interrupted save.
  r = run_morphtrain(base + " --set train.max_steps=4 --resume auto");
  CHECK(r.exit_code == 0);
  CHECK_FALSE(fs::exists(ckpts / "ckpt-00000003.tmp"));
  CHECK(fs::exists(ckpts / "ckpt-00000004"));
}
