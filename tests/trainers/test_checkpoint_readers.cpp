// A reader of a checkpoints folder (--evaluate, --morph-report, a resume's source) never changes
// it: a `*.tmp` it finds may be the save in progress of a run that is still training. Only the
// owner (write access) cleans up after interrupted saves.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "temp_dir.h"
#include "trainers/checkpoint.h"
#include "trainers/tiny_net.h"

using namespace mt;
namespace fs = std::filesystem;
using testing::TempDir;
using testing::TinyNet;
using testing::tiny_state_at;

TEST_CASE("a reader of a checkpoints folder changes nothing in it", "[checkpoint]") {
  TempDir dir("reader");
  {
    std::ostringstream log;
    CheckpointManager writer({dir.path.string(), 3, "tiny"}, log);
    TinyNet net(1);
    writer.save(net.graph, *net.sgd, tiny_state_at(1), 0.1);
  }
  // What a live run's save in progress looks like from outside.
  fs::create_directories(dir.path / "ckpt-00000002.tmp");
  std::ofstream(dir.path / "ckpt-00000002.tmp" / "model.safetensors") << "partial";
  std::ofstream(dir.path / ".last.tmp.4242.0") << "ckpt-0000";
  const std::vector<std::string> before = dir.entries();

  std::ostringstream log;
  CheckpointManager reader({dir.path.string(), 3, "tiny", CheckpointAccess::read}, log);
  TinyNet net(9);
  TrainerState s;
  CHECK(reader.load("auto", net.graph, nullptr, s).step == 1);
  CHECK(dir.entries() == before);  // the save in progress is still there
  CHECK(log.str().empty());
  CHECK_THROWS_WITH(reader.save(net.graph, *net.sgd, tiny_state_at(3), 0.3), Catch::Contains("opened for reading"));
  CHECK(dir.entries() == before);

  SECTION("a reader of a missing folder fails without creating it") {
    const fs::path missing = dir.path / "nope";
    CHECK_THROWS_AS(CheckpointManager({missing.string(), 1, "tiny", CheckpointAccess::read}, log), IoError);
    CHECK_FALSE(fs::exists(missing));
  }
  SECTION("the owner (write access) still cleans up after an interrupted save") {
    CheckpointManager owner({dir.path.string(), 3, "tiny"}, log);
    CHECK(dir.entries() == std::vector<std::string>{"best", "ckpt-00000001", "last"});
  }
}
