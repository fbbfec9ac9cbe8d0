// model.weights: a PyTorch state_dict saved as safetensors initialises the matching zoo model, with
// the same eval logits as PyTorch; keys that do not fit are listed (strict) or skipped and listed
// (model.weights_strict: false); the parameters structure learning adds need not be in the file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/safetensors.h"
#include "python_env.h"
#include "temp_dir.h"
#include "tests/morph/reshape_test_util.h"
#include "tensor_compare.h"
#include "tools/config.h"
#include "tools/experiment.h"
#include "tools/pretrained.h"
#include "tools/training_phase.h"

using namespace mt;
using Catch::Contains;

namespace {

// ResNet-20 on 3x32x32 synthetic inputs, as torch_models.ResNetCifar(3) builds it.
tools::Config resnet20_config(const testing::TempDir& dir, const std::string& extra) {
  const std::string path = (dir.path / "c.yaml").string();
  std::ofstream(path) << "model:\n  name: resnet_cifar\n  depth: 20\n  input_shape: [3, 32, 32]\n" << extra
                      << "data:\n  dataset: synthetic\n  synthetic_size: 16\n";
  return tools::Config::load(path);
}

struct TorchFiles {
  std::filesystem::path weights, check;
};

TorchFiles torch_files(const testing::TempDir& dir) {
  TorchFiles f{dir.path / "resnet20.safetensors", dir.path / "check.safetensors"};
  testing::run_python("tests/parity/torch_pretrained.py", f.weights.string() + " " + f.check.string());
  return f;
}

}  // namespace

TEST_CASE("a PyTorch state_dict in safetensors gives the zoo model PyTorch's logits", "[tools][weights][torch]") {
  MT_REQUIRE_TORCH();
  testing::TempDir dir("pretrained");
  const TorchFiles files = torch_files(dir);
  const SafetensorsContent check = read_safetensors(files.check.string());
  const tools::Config c = resnet20_config(dir, "  weights: " + files.weights.string() + "\n");
  layers::Model m = tools::configured_architecture(c, tools::load_data(c).train);
  std::ostringstream log;
  tools::load_pretrained_weights(c, m, log);
  CHECK_THAT(log.str(), Contains("loaded " + std::to_string(m.graph.state_dict().size()) + " tensors from " +
                                 files.weights.string()));
  const Tensor logits = test::eval_logits(m, testing::named(check.tensors, "images"));
  CHECK(max_rel_diff(logits, testing::named(check.tensors, "logits")) < 1e-4);

  // A fresh model gives other logits: the weights made the difference.
  const tools::Config fresh = resnet20_config(dir, "");
  layers::Model f = tools::configured_model(fresh, tools::load_data(fresh).train);
  CHECK(max_rel_diff(test::eval_logits(f, testing::named(check.tensors, "images")), testing::named(check.tensors, "logits")) > 0.1);
}

TEST_CASE("model.weights that do not fit list every key, or load what fits when not strict", "[tools][weights]") {
  testing::TempDir dir("pretrained_keys");
  // The file: a fresh ResNet-20's state_dict without fc.bias, with an extra key, and a classifier
  // for 7 classes instead of 10.
  const tools::Config plain = resnet20_config(dir, "");
  layers::Model source = tools::configured_model(plain, tools::load_data(plain).train);
  NamedTensors tensors;
  for (auto& [name, t] : source.graph.state_dict()) {
    if (name == "fc.bias") continue;
    tensors.emplace_back(name, name == "fc.weight" ? Tensor::zeros({7, 64}) : t.clone());
  }
  tensors.emplace_back("head.extra.weight", Tensor::zeros({3}));
  const std::string file = (dir.path / "partial.safetensors").string();
  write_safetensors(file, tensors);

  const tools::Config strict = resnet20_config(dir, "  weights: " + file + "\n");
  layers::Model m = tools::configured_architecture(strict, tools::load_data(strict).train);
  const Tensor before = m.graph.value(m.graph.at("conv1.weight")).data.clone();
  std::ostringstream log;
  try {
    tools::load_pretrained_weights(strict, m, log);
    FAIL("a state_dict that does not fit was loaded");
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Contains("c.yaml: model.weights: '" + file + "' does not fit model"));
    CHECK_THAT(what, Contains("Missing key(s):\n    fc.bias"));
    CHECK_THAT(what, Contains("Unexpected key(s):\n    head.extra.weight"));
    CHECK_THAT(what, Contains("Size mismatch for:\n    fc.weight: checkpoint [7, 64] f32, model [10, 64] f32"));
  }
  CHECK(testing::same_values(m.graph.value(m.graph.at("conv1.weight")).data, before));  // nothing loaded

  const tools::Config lenient = resnet20_config(dir, "  weights: " + file + "\n  weights_strict: false\n");
  tools::load_pretrained_weights(lenient, m, log);
  CHECK(testing::same_values(m.graph.value(m.graph.at("conv1.weight")).data, testing::named(tensors, "conv1.weight")));
  CHECK_FALSE(testing::same_values(m.graph.value(m.graph.at("fc.weight")).data, Tensor::zeros({10, 64})));  // kept its own
  CHECK_THAT(log.str(), Contains("loaded " + std::to_string(source.graph.state_dict().size() - 2) + " tensors"));
  CHECK_THAT(log.str(), Contains("not loaded (model.weights_strict is false)") && Contains("head.extra.weight") &&
                            Contains("fc.bias") && Contains("fc.weight: checkpoint [7, 64]"));

  const tools::Config missing = resnet20_config(dir, "  weights: " + (dir.path / "nope.safetensors").string() + "\n");
  CHECK_THROWS_WITH(tools::configured_model(missing, tools::load_data(missing).train),
                    Contains("model.weights: '") && Contains("nope.safetensors' does not exist"));
  std::ofstream(dir.path / "broken.safetensors") << "not a safetensors file";
  const tools::Config broken = resnet20_config(dir, "  weights: " + (dir.path / "broken.safetensors").string() + "\n");
  CHECK_THROWS_AS(tools::configured_model(broken, tools::load_data(broken).train), ConfigError);
}

TEST_CASE("pretrained weights leave ResRep's compactors and FiGS gates at their initial values", "[tools][weights]") {
  testing::TempDir dir("pretrained_added");
  const tools::Config plain = resnet20_config(dir, "");
  layers::Model source = tools::configured_model(plain, tools::load_data(plain).train);
  NamedTensors tensors;
  for (auto& [name, t] : source.graph.state_dict()) tensors.emplace_back(name, t.clone());
  const std::string file = (dir.path / "plain.safetensors").string();
  write_safetensors(file, tensors);
  Tensor images = Tensor::zeros({2, 3, 32, 32});
  images.fill(0.5);
  const Tensor expected = test::eval_logits(source, images);

  for (const char* method : {"resrep", "logistic_sigmoid"}) {
    INFO(method);
    const tools::Config c = resnet20_config(dir, std::string("  weights: ") + file + "\nmorph:\n  method: " + method +
                                                     "\n  target:\n    fraction: 0.5\n");
    layers::Model m = tools::configured_architecture(c, tools::load_data(c).train);
    REQUIRE(m.graph.state_dict().size() > tensors.size());  // compactors or gates were added
    std::ostringstream log;
    tools::load_pretrained_weights(c, m, log);  // strict, yet no missing key
    CHECK_THAT(log.str(), Contains("added by structure learning keep their initial values"));
    if (std::string(method) == "resrep")  // identity compactors: the pretrained function unchanged
      CHECK(max_rel_diff(test::eval_logits(m, images), expected) < 1e-5);
  }
}
