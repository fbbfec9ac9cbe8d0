// The typed settings: every key of the schema is read into them, with its value.
#include <catch2/catch.hpp>

#include <fstream>

#include "tests/temp_dir.h"
#include "tools/config.h"

using namespace mt::tools;

TEST_CASE("the typed settings read every key of the schema", "[tools][config]") {
  const Config c = Config::defaults();
  std::set<std::string> schema;
  for (const KeySpec& k : config_schema()) schema.insert(k.path);
  CHECK(c.keys_read() == schema);
}

TEST_CASE("the typed settings carry the file's and the overrides' values", "[tools][config]") {
  mt::testing::TempDir dir;
  const std::string path = (dir.path / "c.yaml").string();
  std::ofstream(path) << "optim:\n  lr: 0.25\n  betas: [0.8, 0.9]\n"
                       << "data:\n  std: [0.5]\nmorph:\n  target:\n    fraction: 0.3\n";
  const Config c = Config::load(path, {"train.batch_size=7", "pipeline.retrain=finetune"});
  const Settings& s = c.settings();
  CHECK(s.optim.lr == 0.25);
  CHECK(s.optim.betas == std::vector<double>{0.8, 0.9});
  CHECK(s.data.std_dev == std::vector<double>{0.5});
  CHECK(s.morph.target.fraction == 0.3);
  CHECK(s.train.batch_size == 7);
  CHECK(s.pipeline.retrain == "finetune");
  CHECK(s.model.name == Config::defaults().string("model.name"));  // a default stays
}
