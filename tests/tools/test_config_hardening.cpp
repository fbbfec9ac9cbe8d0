// Config values a hostile or careless user writes: NaN in every numeric key (it fails every
// comparison, so a range check written as `v < min || v > max` lets it through), a key given twice
// (yaml-cpp keeps both, the later one silently won), and nesting deep enough to crash a recursive
// parser.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "cli_run.h"
#include "core/error.h"
#include "temp_dir.h"
#include "tools/config.h"

using mt::tools::Config;
namespace fs = std::filesystem;

namespace {

std::string load_error(const fs::path& file, const std::string& text, const std::vector<std::string>& overrides = {}) {
  std::ofstream(file, std::ios::trunc) << text;
  try {
    Config::load(file.string(), overrides);
  } catch (const mt::ConfigError& e) {
    return e.what();
  }
  return "no ConfigError";
}

// The NaN a user can write for a key: a scalar, or a list holding one.
std::string nan_for(const mt::tools::KeySpec& spec) {
  return spec.type == mt::tools::KeyType::number_list ? "[.nan]" : ".nan";
}

bool numeric(const mt::tools::KeySpec& spec) {
  using mt::tools::KeyType;
  return spec.type == KeyType::integer || spec.type == KeyType::number || spec.type == KeyType::number_list;
}

}  // namespace

TEST_CASE("NaN fails the range check of every numeric config key", "[cli][config]") {
  mt::testing::TempDir tmp("nan");
  int keys = 0;
  for (const auto& spec : mt::tools::config_schema()) {
    if (!numeric(spec)) continue;
    ++keys;
    INFO(spec.path);
    const std::string e = load_error(tmp.path / "c.yaml", "seed: 1\n", {spec.path + "=" + nan_for(spec)});
    CHECK_THAT(e, Catch::Contains("key '" + spec.path + "' expects"));
  }
  CHECK(keys > 30);
  // In a file too, with YAML's other spelling, naming the line.
  CHECK_THAT(load_error(tmp.path / "c.yaml", "model:\n  dropout: .NaN\n"),
             Catch::Contains(":2:12: key 'model.dropout' expects a number in [0, 0.99]"));
  CHECK_THAT(load_error(tmp.path / "c.yaml", "optim:\n  betas: [0.9, .inf]\n"),
             Catch::Contains("key 'optim.betas' expects a list of numbers"));
}

TEST_CASE("NaN in any numeric key exits 2 and creates no run directory", "[cli][config]") {
  mt::testing::TempDir tmp("nan_cli");
  const fs::path root = tmp.path / "runs";
  for (const auto& spec : mt::tools::config_schema()) {
    if (!numeric(spec)) continue;
    INFO(spec.path);
    const auto r = mt::testing::run_morphtrain("--config configs/resnet20_fmnist.yaml --set data.dataset=synthetic --set output.root=" +
                         root.string() + " --set '" + spec.path + "=" + nan_for(spec) + "'");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains(spec.path));
    CHECK_FALSE(fs::exists(root));
  }
}

TEST_CASE("a key given twice in a YAML mapping is an error naming both lines", "[cli][config]") {
  mt::testing::TempDir tmp("dup");
  const fs::path file = tmp.path / "c.yaml";
  CHECK_THAT(load_error(file, "optim:\n  lr: 0.1\n  momentum: 0.5\n  lr: 0.2\n"),
             Catch::Contains(":4:3: key 'optim.lr' is given twice, at lines 2 and 4"));
  // A section repeated: its keys would merge or vanish depending on the order.
  CHECK_THAT(load_error(file, "optim:\n  lr: 0.1\nseed: 3\noptim:\n  momentum: 0.5\n"),
             Catch::Contains(":4:1: key 'optim' is given twice, at lines 1 and 4"));
  // The same leaf name in different sections is no duplicate.
  CHECK(load_error(file, "model:\n  name: resnet20\noptim:\n  name: sgd\n") == "no ConfigError");
}

TEST_CASE("a config nested 100000 levels deep is a config error, not a crash", "[cli][config]") {
  mt::testing::TempDir tmp("deep");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK_THAT(load_error(tmp.path / "c.yaml", "data:\n  mean: " + deep + "\n"),
             Catch::Contains("c.yaml") && Catch::Contains("nested deeper than"));
}

TEST_CASE("a key given twice in model.graph, inline or in its file, exits 2 naming both lines", "[cli][config]") {
  mt::testing::TempDir tmp("dup_graph");
  const fs::path config = tmp.path / "c.yaml";
  CHECK_THAT(load_error(config, "model:\n  name: yaml\n  graph:\n    - {name: fc, op: linear, bias: true, bias: false}\n"),
             Catch::Contains(":4:42: key 'model.graph[0].bias' is given twice, on line 4, columns 30 and 42"));

  const fs::path graph = tmp.path / "net.yaml";
  std::ofstream(graph) << "- name: fc\n  op: linear\n  op: relu\n";
  std::ofstream(config, std::ios::trunc) << "data:\n  dataset: synthetic\nmodel:\n  name: yaml\n  graph: " << graph.string() << "\n";
  const auto r = mt::testing::run_morphtrain("--config " + config.string() + " --summary");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains(graph.string() + ":3:3: key '[0].op' is given twice, at lines 2 and 3"));
}
