// Pruning old checkpoints renames each out of the checkpoint names before removing it, so a kill
// during a removal leaves `ckpt-<step>.deleted.tmp`, never a half-deleted `ckpt-<step>`. This
// holds the two halves of that promise: pruning leaves no such name behind, and the name a kill
// would leave is invisible to `auto` and cleared by the next writer.
#include <catch2/catch.hpp>

#include <filesystem>
#include <sstream>

#include "temp_dir.h"
#include "trainers/checkpoint.h"
#include "trainers/tiny_net.h"

using namespace mt;
namespace fs = std::filesystem;
using testing::TempDir;
using testing::TinyNet;
using testing::tiny_state_at;

TEST_CASE("pruned checkpoints go through a leftover name that auto never loads", "[checkpoint]") {
  TempDir dir("prune");
  std::ostringstream log;
  {
    CheckpointManager manager({dir.path.string(), 1, "tiny"}, log);
    TinyNet net(1);
    for (int step = 1; step <= 3; ++step) manager.save(net.graph, *net.sgd, tiny_state_at(step), 0.1 * step);
  }
  CHECK(dir.entries() == std::vector<std::string>{"best", "ckpt-00000003", "last"});

  // What a kill between the rename and the end of the removal leaves: part of ckpt-00000002.
  fs::create_directories(dir.path / "ckpt-00000002.deleted.tmp");
  fs::copy_file(dir.path / "ckpt-00000003" / "trainer_state.json",
                dir.path / "ckpt-00000002.deleted.tmp" / "trainer_state.json");
  fs::remove_all(dir.path / "ckpt-00000003");  // and the newest one lost too: auto has nothing
  CheckpointManager reader({dir.path.string(), 1, "tiny", CheckpointAccess::read}, log);
  CHECK(reader.list().empty());
  TinyNet net(2);
  TrainerState s;
  CHECK_THROWS_AS(reader.load("auto", net.graph, nullptr, s), IoError);
  CheckpointManager owner({dir.path.string(), 1, "tiny"}, log);
  CHECK(dir.entries() == std::vector<std::string>{"best", "last"});
}
