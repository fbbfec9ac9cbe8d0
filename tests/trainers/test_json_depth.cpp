// JSON from files nested deep enough to overflow the stack of any recursive reader (dump(), a
// copy, a walk) is rejected at parse, with a message naming the file; a checkpoint whose
// trainer_state.json is such a file is skipped and `auto` falls back to the previous one.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json_read.h"
#include "temp_dir.h"
#include "trainers/checkpoint.h"
#include "trainers/tiny_net.h"

using namespace mt;
namespace fs = std::filesystem;
using testing::TempDir;
using testing::TinyNet;
using testing::tiny_state_at;

namespace {

constexpr int kDeep = 100000;  // far past what a recursive dump() survives on an 8 MiB stack

std::string nested_arrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("try_parse_json bounds the depth; describe_json never prints a container", "[checkpoint]") {
  std::string why;
  CHECK(try_parse_json(nested_arrays(kMaxJsonDepth), why));
  CHECK_FALSE(try_parse_json(nested_arrays(kMaxJsonDepth + 1), why));
  CHECK_THAT(why, Catch::Contains("nested deeper than 64 levels"));
  CHECK_FALSE(try_parse_json(nested_arrays(kDeep), why));
  CHECK_FALSE(try_parse_json("{\"a\": ", why));
  CHECK_THAT(why, Catch::Contains("parse error"));
  const std::optional<nlohmann::json> deep = try_parse_json(nested_arrays(60), why);
  REQUIRE(deep);
  CHECK(describe_json(*deep) == "an array of 1 elements");
  CHECK(describe_json(nlohmann::json{{"a", 1}, {"b", 2}}) == "an object of 2 keys");
  CHECK(describe_json(std::string(1000, 'x')).size() < 70);
  CHECK(describe_json(3.5) == "3.5");
}

TEST_CASE("a trainer_state.json nested 100000 deep is rejected and auto falls back", "[checkpoint]") {
  TempDir dir("deep_state");
  std::ostringstream log;
  CheckpointManager manager({dir.path.string(), 3, "tiny"}, log);
  TinyNet net(1);
  manager.save(net.graph, *net.sgd, tiny_state_at(1), 0.1);
  const std::string newest = manager.save(net.graph, *net.sgd, tiny_state_at(2), 0.2);
  const fs::path state_file = fs::path(newest) / "trainer_state.json";
  // Valid JSON, every key present; a value nested deep where the reader would print it.
  nlohmann::json j = nlohmann::json::parse(read_all(state_file));
  j["best_accuracy"] = "DEEP";
  std::string text = j.dump();
  const size_t at = text.find("\"DEEP\"");
  REQUIRE(at != std::string::npos);
  text.replace(at, 6, nested_arrays(kDeep));
  std::ofstream(state_file, std::ios::trunc) << text;

  TinyNet fresh(9);
  TrainerState s;
  CHECK_THROWS_WITH(manager.load(newest, fresh.graph, fresh.sgd.get(), s),
                    Catch::Contains("trainer_state.json") && Catch::Contains("nested deeper than"));
  const CheckpointLoad loaded = manager.load("auto", fresh.graph, fresh.sgd.get(), s);
  CHECK(loaded.step == 1);
  REQUIRE(loaded.warnings.size() == 1);
  CHECK_THAT(loaded.warnings[0], Catch::Contains("ckpt-00000002") && Catch::Contains("nested deeper than"));
}
