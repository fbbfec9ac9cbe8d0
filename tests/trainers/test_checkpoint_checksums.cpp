// Every byte of a checkpoint is under a checksum: one flipped bit in any of its files, headers
// included, is rejected with a message naming the file, and `auto` falls back to the previous
// intact checkpoint.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "temp_dir.h"
#include "trainers/checkpoint.h"
#include "trainers/checkpoint_checksums.h"
#include "trainers/checkpoint_detail.h"
#include "trainers/tiny_net.h"

using namespace mt;
namespace fs = std::filesystem;
using testing::TempDir;
using testing::TinyNet;
using testing::tiny_state_at;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_all(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

bool same_weights(Graph& a, Graph& b) {
  const NamedTensors x = a.state_dict(), y = b.state_dict();
  for (size_t i = 0; i < x.size(); ++i)
    for (int64_t k = 0; k < x[i].second.numel(); ++k)
      if (x[i].second.data<float>()[k] != y[i].second.data<float>()[k]) return false;
  return x.size() == y.size();
}

// Offsets to flip in a file of `size` bytes: the safetensors size prefix or the JSON's first
// brace, the header (names, shapes, metadata), the middle, and the last byte.
std::vector<size_t> probes(const std::string& file, size_t size) {
  if (file == "trainer_state.json") return {0, size / 3, size / 2, size - 3};
  return {2, 20, 60, size / 2, size - 1};
}

}  // namespace

TEST_CASE("a flipped bit in any checkpoint file is rejected and auto falls back", "[checkpoint]") {
  TempDir dir("checksums");
  std::ostringstream log;
  CheckpointManager manager({dir.path.string(), 3, "tiny"}, log);
  TinyNet first(1);
  manager.save(first.graph, *first.sgd, tiny_state_at(1), 0.1);
  TinyNet second(2);
  const std::string newest = manager.save(second.graph, *second.sgd, tiny_state_at(2), 0.2);

  for (const std::string file : {"model.safetensors", "optimizer.safetensors", "trainer_state.json"}) {
    const fs::path path = fs::path(newest) / file;
    const std::string original = read_all(path);
    REQUIRE(original.size() > 64);
    for (size_t at : probes(file, original.size())) {
      for (int bit : {0, 5}) {
        INFO(file << ": bit " << bit << " of byte " << at << " of " << original.size());
        std::string bytes = original;
        bytes[at] = static_cast<char>(bytes[at] ^ (1 << bit));
        write_all(path, bytes);
        TinyNet b(9);
        TrainerState s;
        CHECK_THROWS_WITH(manager.load(newest, b.graph, b.sgd.get(), s), Catch::Contains(file));
        // Evaluation loads without an optimizer: the optimizer file is still checked.
        CHECK_THROWS_WITH(manager.load(newest, b.graph, nullptr, s), Catch::Contains(file));
        const CheckpointLoad loaded = manager.load("auto", b.graph, b.sgd.get(), s);
        CHECK(loaded.step == 1);
        REQUIRE(loaded.warnings.size() == 1);
        CHECK_THAT(loaded.warnings[0], Catch::Contains("ckpt-00000002") && Catch::Contains(file));
        CHECK(same_weights(b.graph, first.graph));
      }
    }
    write_all(path, original);
  }
  // Intact again: the newest loads.
  TinyNet b(9);
  TrainerState s;
  CHECK(manager.load("auto", b.graph, b.sgd.get(), s).step == 2);
  CHECK(same_weights(b.graph, second.graph));
}

TEST_CASE("a trainer_state.json without checksums, or naming files outside, is rejected", "[checkpoint]") {
  TempDir dir("checksums_missing");
  std::ostringstream log;
  CheckpointManager manager({dir.path.string(), 3, "tiny"}, log);
  TinyNet net(1);
  const std::string saved = manager.save(net.graph, *net.sgd, tiny_state_at(1), 0.1);
  const fs::path state_file = fs::path(saved) / "trainer_state.json";
  nlohmann::json j = nlohmann::json::parse(read_all(state_file));
  REQUIRE(j.contains("checksum"));
  REQUIRE(j["files"].size() == 2);
  TinyNet b(9);
  TrainerState s;
  SECTION("no checksum") {
    j.erase("checksum");
    write_all(state_file, j.dump(2));
    CHECK_THROWS_WITH(manager.load(saved, b.graph, nullptr, s),
                      Catch::Contains("trainer_state.json") && Catch::Contains("no valid 'checksum'"));
  }
  SECTION("a file name that leads out of the checkpoint") {
    j["files"]["../last"] = "00000000";
    j.erase("checksum");
    // A valid checksum over the edited content: only the name is wrong.
    const std::string body = j.dump();
    j["checksum"] = checkpoint_detail::hex32(checkpoint_detail::bytes_crc32(body.data(), body.size()));
    write_all(state_file, j.dump(2));
    CHECK_THROWS_WITH(manager.load(saved, b.graph, nullptr, s),
                      Catch::Contains("trainer_state.json") && Catch::Contains("other than a file of the checkpoint"));
  }
}
