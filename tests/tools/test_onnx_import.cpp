// model.onnx: torchvision's networks, exported by PyTorch, import with PyTorch's parameter count
// and logits; files the engine cannot express are refused naming the node, its op and the reason.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/safetensors.h"
#include "python_env.h"
#include "temp_dir.h"
#include "tensor_compare.h"
#include "tests/morph/reshape_test_util.h"
#include "tools/config.h"
#include "tools/experiment.h"
#include "tools/pretrained.h"
#include "tools/training_phase.h"

using namespace mt;
using Catch::Contains;

namespace {

tools::Config onnx_config(const testing::TempDir& dir, const std::string& onnx, int64_t channels, int64_t size,
                          const std::string& extra = "") {
  const std::string path = (dir.path / "c.yaml").string();
  std::ofstream(path) << "model:\n  name: onnx\n  onnx: " << onnx << "\n  input_shape: [" << channels << ", "
                      << size << ", " << size << "]\n"
                      << extra << "data:\n  dataset: synthetic\n  synthetic_size: 8\n";
  return tools::Config::load(path);
}

// Imports torchvision's `name` exported at `size` and compares it with PyTorch.
void check_torchvision(const std::string& name, int64_t size) {
  testing::TempDir dir("onnx_" + name);
  testing::run_python("tests/parity/torch_onnx_models.py", dir.path.string() + " " + name + ":" + std::to_string(size));
  const SafetensorsContent check = read_safetensors((dir.path / (name + ".check.safetensors")).string());
  const tools::Config c = onnx_config(dir, (dir.path / (name + ".onnx")).string(), 3, size);
  std::ostringstream log;
  layers::Model m = tools::configured_architecture(c, tools::load_data(c).train);
  tools::load_pretrained_weights(c, m, log);
  INFO(log.str());
  CHECK_THAT(log.str(), Contains("model.onnx: loaded"));
  CHECK(m.graph.num_parameters() == testing::named(check.tensors, "parameters").data<int64_t>()[0]);
  const Tensor logits = test::eval_logits(m, testing::named(check.tensors, "images"));
  CHECK(max_rel_diff(logits, testing::named(check.tensors, "logits")) < 1e-4);
}

}  // namespace

TEST_CASE("torchvision resnet18 and resnet50 import with PyTorch's logits", "[tools][onnx][torch]") {
  MT_REQUIRE_TORCH();
  check_torchvision("resnet18", 64);
  check_torchvision("resnet50", 64);
}

TEST_CASE("torchvision mobilenet_v2 and mobilenet_v3_small import with PyTorch's logits", "[tools][onnx][torch]") {
  MT_REQUIRE_TORCH();
  check_torchvision("mobilenet_v2", 64);
  check_torchvision("mobilenet_v3_small", 64);
}

TEST_CASE("torchvision vgg11_bn and squeezenet1_1 import with PyTorch's logits", "[tools][onnx][torch]") {
  MT_REQUIRE_TORCH();
  check_torchvision("vgg11_bn", 224);  // its adaptive pool to 7x7 exports only where 7 divides the map
  check_torchvision("squeezenet1_1", 64);
}

TEST_CASE("torchvision densenet121, regnet_x_400mf and efficientnet_b0 import with PyTorch's logits",
          "[tools][onnx][torch]") {
  MT_REQUIRE_TORCH();
  check_torchvision("densenet121", 64);
  check_torchvision("regnet_x_400mf", 64);
  check_torchvision("efficientnet_b0", 64);
}

TEST_CASE("ONNX files the engine cannot express are refused by node, op and reason", "[tools][onnx]") {
  MT_REQUIRE_TORCH();  // python3-onnx comes with the same test dependencies
  testing::TempDir dir("onnx_bad");
  testing::run_python("tests/parity/onnx_bad_models.py", dir.path.string());
  auto error = [&](const std::string& file, int64_t channels = 3) {
    const std::string path = (dir.path / (file + ".onnx")).string();
    try {
      const tools::Config c = onnx_config(dir, path, channels, 8);
      tools::configured_model(c, tools::load_data(c).train);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    FAIL(file << " was accepted");
    return std::string();
  };
  {
    const std::string path = (dir.path / "good.onnx").string();
    const tools::Config c = onnx_config(dir, path, 3, 8);
    layers::Model m = tools::configured_model(c, tools::load_data(c).train);
    CHECK(m.graph.num_parameters() == 4 * 3 * 9 + 10 * 4 + 10);
  }
  {  // A classifier for 1000 classes on data of 10: resized, fresh, and said so; the rest is loaded.
    const std::string path = (dir.path / "thousand_classes.onnx").string();
    const tools::Config c = onnx_config(dir, path, 3, 8);
    layers::Model m = tools::configured_architecture(c, tools::load_data(c).train);
    std::ostringstream log;
    tools::load_pretrained_weights(c, m, log);
    CHECK_THAT(log.str(), Contains("layer 'fc' has 10 outputs for the data's classes instead of the file's") &&
                              Contains("model.onnx: loaded 1 tensors") && Contains("fc.weight"));
    CHECK(m.graph.num_parameters() == 4 * 3 * 9 + 10 * 4 + 10);
  }
  CHECK_THAT(error("unknown_op"), Contains("node 'soft1' (Softsign): op type 'Softsign' is not supported") &&
                                      Contains("Conv") && Contains("BatchNormalization") && Contains("HardSwish"));
  CHECK_THAT(error("clip_range"), Contains("node 'clip1' (Clip)") && Contains("ReLU6 (0, 6) only"));
  CHECK_THAT(error("asymmetric_pads"), Contains("node 'conv1' (Conv): asymmetric pads [1, 1, 0, 0]"));
  CHECK_THAT(error("channel_mixing_reshape"), Contains("node 'shuffle' (Reshape)") && Contains("mixes channels"));
  CHECK_THAT(error("old_opset"), Contains("uses opset 9") && Contains("11 to 17"));
  CHECK_THAT(error("not_onnx"), Contains("is not an ONNX model"));
  CHECK_THAT(error("one_channel_input", 1), Contains("input 'images' has 3 channels, the data 1"));
  for (const std::string file : {"unknown_op", "clip_range", "not_onnx"})
    CHECK_THAT(error(file), Contains(file + ".onnx"));

  // model.onnx belongs to model.name onnx.
  const std::string path = (dir.path / "c2.yaml").string();
  std::ofstream(path) << "model:\n  name: resnet20\n  onnx: " << (dir.path / "good.onnx").string()
                      << "\ndata:\n  dataset: synthetic\n";
  const tools::Config c = tools::Config::load(path);
  CHECK_THROWS_WITH(tools::model_options(c, tools::load_data(c).train), Contains("hint: set model.name: onnx"));
}
