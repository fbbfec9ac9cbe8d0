// The run directory has one writer at a time, and readers beside it change nothing: --evaluate and
// --morph-report on a run that is still training leave its in-progress `*.tmp` save alone, and a
// second `--resume auto` of the same run refuses instead of interfering. Both with the run's
// state laid out by hand and with two morphtrain processes at once.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

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

namespace {

// A small run that saves a checkpoint every step, trained for 2 steps to begin with.
struct LiveRun {
  mt::testing::TempDir tmp{"beside"};
  std::string base = "--config configs/resnet20_fmnist.yaml --set output.root=" + tmp.path.string() +
                     " --set name=live --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic"
                     " --set data.synthetic_size=128 --set train.batch_size=32 --set checkpoint.every_steps=1"
                     " --set schedule.warmup_steps=0";
  fs::path dir, ckpts;

  LiveRun() {
    const auto r = run_morphtrain(base + " --set train.max_steps=2");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    dir = (*fs::directory_iterator(tmp.path / "live")).path();
    ckpts = dir / "checkpoints";
  }
  // A resume to `steps` in the background.
  std::unique_ptr<mt::testing::BackgroundRun> resume(int steps, const std::string& log) const {
    return std::make_unique<mt::testing::BackgroundRun>(
        base + " --set train.max_steps=" + std::to_string(steps) + " --resume auto", (tmp.path / log).string());
  }
  std::vector<std::string> checkpoint_names() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(ckpts)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

bool saving(const std::vector<std::string>& names) {
  return std::any_of(names.begin(), names.end(), [](const std::string& n) { return n.size() > 4 && n.substr(n.size() - 4) == ".tmp"; });
}

}  // namespace

// Once the trainer has saved its first checkpoint, it is stopped (SIGSTOP) for each evaluation at
// whatever point of its step it has reached, so every evaluation sees the run as a reader beside
// it may and reads a checkpoint that stays put. (That a reader leaves a save in progress alone is
// checked above, with the `*.tmp` laid out by hand: a stop rarely lands inside a save.)
TEST_CASE("evaluations beside a run that saves every step leave it to finish whole", "[cli][train]") {
  LiveRun run;
  auto trainer = run.resume(16, "train.log");  // 5 epochs of 4 steps allow 20
  for (int i = 0; i < 12000 && trainer->running() && !fs::exists(run.ckpts / "ckpt-00000003"); ++i) ::usleep(5 * 1000);
  int evaluations = 0, during_saves = 0;
  while (evaluations < 4 && trainer->stop()) {
    during_saves += saving(run.checkpoint_names());
    const auto r = run_morphtrain("--evaluate " + run.dir.string());
    trainer->resume();
    ++evaluations;
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("test accuracy"));
    ::usleep(50 * 1000);
  }
  INFO("evaluations " << evaluations << ", during a save " << during_saves);
  const auto trained = trainer->wait();
  INFO(trained.output);
  CHECK(trained.exit_code == 0);
  CHECK(evaluations >= 1);
  // Its checkpoints are whole: no save left half-done, the last one is step 16, and each one
  // kept evaluates on its own (a checksum that fails refuses it).
  const std::vector<std::string> names = run.checkpoint_names();
  CHECK_FALSE(saving(names));
  CHECK(std::find(names.begin(), names.end(), "ckpt-00000016") != names.end());
  int checked = 0;
  for (const std::string& n : names) {
    if (n.rfind("ckpt-", 0) != 0) continue;
    INFO(n);
    const auto r = run_morphtrain("--config " + (run.dir / "config.yaml").string() + " --evaluate " +
                                  (run.ckpts / n).string());
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("test accuracy") && !Catch::Contains("warning"));
    ++checked;
  }
  CHECK(checked >= 2);
}

// The first resume is stopped once it has saved (so it holds the run's lock) and still has steps to
// go; the second one, started then, finds the lock and refuses without touching the run.
TEST_CASE("two --resume auto of one run at once: one trains, the other refuses", "[cli][train]") {
  LiveRun run;
  // Steps enough that the first cannot finish between its third save and being stopped, even on
  // a loaded machine.
  auto first = run.resume(20, "first.log");  // all 5 epochs of 4 steps
  const auto saved = [&] { return fs::exists(run.ckpts / "ckpt-00000003"); };
  for (int i = 0; i < 12000 && first->running() && !saved(); ++i) ::usleep(5 * 1000);
  REQUIRE(first->stop());  // still running, holding the lock
  REQUIRE(saved());

  const auto before = run.checkpoint_names();
  const auto second = run_morphtrain(run.base + " --set train.max_steps=10 --resume auto");
  // Compared while the first is still stopped: once it runs again it saves checkpoints of its own.
  CHECK(run.checkpoint_names() == before);
  first->resume();
  CHECK(second.exit_code == 1);
  CHECK_THAT(second.output, Catch::Contains(run.dir.string()) && Catch::Contains("is in use"));

  const auto trained = first->wait();
  INFO(trained.output);
  CHECK(trained.exit_code == 0);
  CHECK(fs::exists(run.ckpts / "ckpt-00000020"));
  CHECK_FALSE(saving(run.checkpoint_names()));
}
