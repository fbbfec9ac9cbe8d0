// Config validation: every error names file:line:column and the key, with a hint for near misses.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "tools/config.h"

using mt::tools::Config;

namespace {
std::string write_config(const std::string& text) {
  static int counter = 0;
  const auto path = std::filesystem::temp_directory_path() /
                    ("mt_config_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".yaml");
  std::ofstream(path) << text;
  return path.string();
}

std::string load_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  const std::string path = write_config(text);
  try {
    Config::load(path, overrides);
  } catch (const mt::ConfigError& e) {
    std::filesystem::remove(path);
    return e.what();
  }
  std::filesystem::remove(path);
  return "";
}
}  // namespace

TEST_CASE("a valid config resolves with defaults and overrides", "[cli][config]") {
  const std::string path = write_config("seed: 7\noptim:\n  lr: 0.2\nmodel:\n  name: resnet32\n");
  const Config c = Config::load(path, {"train.epochs=3", "data.mean=[0.5]"});
  std::filesystem::remove(path);
  CHECK(c.integer("seed") == 7);
  CHECK(c.number("optim.lr") == Approx(0.2));
  CHECK(c.string("model.name") == "resnet32");
  CHECK(c.integer("train.epochs") == 3);
  CHECK(c.numbers("data.mean") == std::vector<double>{0.5});
  CHECK(c.integer("train.batch_size") == 128);  // a default
  // The dump is itself a valid config that resolves to the same values.
  const std::string again = write_config(c.dump());
  const Config d = Config::load(again);
  std::filesystem::remove(again);
  CHECK(d.dump() == c.dump());
}

TEST_CASE("config errors name the place, the key and a hint", "[cli][config]") {
  std::string e = load_error("optim:\n  lrr: 0.1\n");
  CHECK_THAT(e, Catch::Contains(":2:3: unknown key 'optim.lrr'") && Catch::Contains("did you mean 'optim.lr'"));
  e = load_error("optimizer:\n  lr: 0.1\n");
  CHECK_THAT(e, Catch::Contains("unknown key 'optimizer.lr'") && Catch::Contains("did you mean 'optim.lr'"));
  e = load_error("optim:\n  lr: abc\n");
  CHECK_THAT(e, Catch::Contains(":2:7: key 'optim.lr' expects a number") && Catch::Contains("found 'abc'"));
  e = load_error("train:\n  batch_size: 0\n");
  CHECK_THAT(e, Catch::Contains("key 'train.batch_size' expects an integer in [1,"));
  e = load_error("optim:\n  name: adam\n");
  CHECK_THAT(e, Catch::Contains("one of: sgd, adamw"));
  e = load_error("optim: [lr: 0.1\n");
  CHECK_THAT(e, Catch::Contains(":") && Catch::Contains("YAML syntax error"));
  e = load_error("seed: 1\n", {"optim.lrr=0.1"});
  CHECK_THAT(e, Catch::Contains("--set: unknown key 'optim.lrr'") && Catch::Contains("did you mean 'optim.lr'"));
  e = load_error("seed: 1\n", {"optim.lr"});
  CHECK_THAT(e, Catch::Contains("expected key.path=value"));
}

TEST_CASE("edit distance", "[cli][config]") {
  CHECK(mt::tools::edit_distance("kitten", "sitting") == 3);
  CHECK(mt::tools::edit_distance("", "abc") == 3);
  CHECK(mt::tools::edit_distance("lr", "lr") == 0);
}

#include <sstream>

#include "tools/config_docs.h"

TEST_CASE("docs/config.md is the schema's reference", "[cli][config][docs]") {
  std::ifstream in("docs/config.md");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  INFO("regenerate with: build/tools/morphtrain --help-config --markdown > docs/config.md");
  CHECK(text.str() == mt::tools::config_reference_markdown());
}
