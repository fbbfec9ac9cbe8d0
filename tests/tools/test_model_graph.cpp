// Networks written in the config (model.graph, inline or as a file) and model.input_shape: they
// build, train from the command line, and bad input names the config's file and line.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "temp_dir.h"
#include "tests/tools/cli_run.h"
#include "tools/config.h"
#include "tools/experiment.h"
#include "tools/training_phase.h"

using namespace mt;
using Catch::Contains;

namespace {

// A small inline network: conv -> bn -> relu -> pool -> linear.
const char* kInlineGraph = R"(model:
  name: yaml
  input_shape: [3, 12, 12]
  graph:
    - {name: conv1, op: conv2d, out_channels: 8, kernel: 3, padding: 1}
    - {name: bn1, op: batchnorm2d}
    - {name: relu1, op: relu}
    - {name: pool, op: global_avgpool2d}
    - {name: flatten, op: flatten}
    - {name: fc, op: linear}
data:
  dataset: synthetic
  synthetic_size: 256
train:
  epochs: 1
  batch_size: 32
)";

tools::Config config_from(const testing::TempDir& dir, const std::string& text) {
  const std::string path = (dir.path / "c.yaml").string();
  std::ofstream(path) << text;
  return tools::Config::load(path);
}

}  // namespace

TEST_CASE("an inline graph and an input shape build the network the config describes", "[tools][graph]") {
  testing::TempDir dir("graph");
  const tools::Config c = config_from(dir, kInlineGraph);
  const tools::DataSplits data = tools::load_data(c);
  CHECK(data.train.sample == Shape{3, 12, 12});  // synthetic data takes model.input_shape
  const layers::Model m = tools::configured_model(c, data.train);
  REQUIRE(m.graph.find_node("conv1") >= 0);
  CHECK(m.graph.value(m.graph.at("conv1.weight")).shape == Shape{8, 3, 3, 3});
  CHECK(m.graph.value(m.graph.at("fc.weight")).shape == Shape{10, 8});  // num_classes from the data
}

TEST_CASE("a graph file in the config builds the same network as the zoo's", "[tools][graph]") {
  testing::TempDir dir("graph_file");
  const tools::Config yaml = config_from(
      dir, "model:\n  name: yaml\n  graph: configs/models/resnet8.yaml\n  input_shape: [1, 28, 28]\n"
           "data:\n  dataset: synthetic\n");
  const tools::Config zoo = config_from(dir, "model:\n  name: resnet_cifar\n  depth: 8\ndata:\n  dataset: synthetic\n");
  const tools::DataSplits data = tools::load_data(yaml);
  const layers::Model a = tools::configured_model(yaml, data.train);
  const layers::Model b = tools::configured_model(zoo, data.train);
  CHECK(a.graph.num_parameters() == b.graph.num_parameters());
  REQUIRE(a.graph.state_dict().size() == b.graph.state_dict().size());
  for (size_t i = 0; i < a.graph.state_dict().size(); ++i)
    CHECK(a.graph.state_dict()[i].first == b.graph.state_dict()[i].first);
}

TEST_CASE("graph and input-shape mistakes name the config and the key", "[tools][graph]") {
  testing::TempDir dir("graph_errors");
  const tools::Config no_graph = config_from(dir, "model:\n  name: yaml\ndata:\n  dataset: synthetic\n");
  const tools::DataSplits data = tools::load_data(no_graph);
  CHECK_THROWS_WITH(tools::model_options(no_graph, data.train), Contains("c.yaml") && Contains("needs model.graph"));

  const tools::Config zoo_with_graph =
      config_from(dir, "model:\n  graph: configs/models/resnet8.yaml\ndata:\n  dataset: synthetic\n");
  CHECK_THROWS_WITH(tools::model_options(zoo_with_graph, data.train),
                    Contains("model.name is 'resnet20'") && Contains("hint: set model.name: yaml"));

  // A layer with a typo inside the config: the config's file and line, the layer, the field.
  std::string typo = kInlineGraph;
  typo.replace(typo.find("out_channels: 8"), 15, "out_chanels: 8");
  const tools::Config bad_layer = config_from(dir, typo);
  CHECK_THROWS_WITH(tools::configured_model(bad_layer, tools::load_data(bad_layer).train),
                    Contains("c.yaml:5:") && Contains("layer 'conv1'") && Contains("out_chanels"));

  const tools::Config wrong_rank = config_from(dir, "model:\n  input_shape: [28, 28]\ndata:\n  dataset: synthetic\n");
  CHECK_THROWS_WITH(tools::load_data(wrong_rank), Contains("model.input_shape") && Contains("[C, H, W]"));

  // A real data set whose samples differ from the shape asked for.
  const tools::Config square = config_from(dir, "model:\n  input_shape: [3, 32, 32]\n");
  CHECK_THROWS_WITH(tools::model_options(square, data.train),
                    Contains("model.input_shape [3, 32, 32]") && Contains("[1, 28, 28]"));
}

TEST_CASE("morphtrain trains a network written in its config", "[cli][graph]") {
  testing::TempDir dir("graph_cli");
  const std::string path = (dir.path / "net.yaml").string();
  std::ofstream(path) << kInlineGraph << "output:\n  root: " << (dir.path / "runs").string() << "\n";
  const testing::CliResult r = testing::run_morphtrain("--config " + path);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("final test accuracy"));
  const testing::CliResult summary = testing::run_morphtrain("--config " + path + " --summary");
  CHECK(summary.exit_code == 0);
  CHECK_THAT(summary.output, Contains("conv1"));
}

// A 7x5 kernel, padding [3, 2] (so "same" along both axes) and a [2, 1] stride on a 3x17x19
// input: non-square windows and images from the config to the trained network.
const char* kNonSquareGraph = R"(model:
  name: yaml
  input_shape: [3, 17, 19]
  graph:
    - {name: conv1, op: conv2d, out_channels: 6, kernel: [7, 5], padding: [3, 2]}
    - {name: bn1, op: batchnorm2d}
    - {name: relu1, op: relu}
    - {name: conv2, op: conv2d, out_channels: 8, kernel: [3, 1], stride: [2, 1], padding: [1, 1, 0, 0]}
    - {name: pool, op: maxpool2d, kernel: [3, 2], stride: [1, 2]}
    - {name: gap, op: global_avgpool2d}
    - {name: flatten, op: flatten}
    - {name: fc, op: linear}
data:
  dataset: synthetic
  synthetic_size: 128
train:
  epochs: 1
  batch_size: 32
)";

TEST_CASE("kernels, strides and padding per axis on a non-square input", "[tools][graph]") {
  testing::TempDir dir("graph_nonsquare");
  const tools::Config c = config_from(dir, kNonSquareGraph);
  const tools::DataSplits data = tools::load_data(c);
  REQUIRE(data.train.sample == Shape{3, 17, 19});
  layers::Model m = tools::configured_model(c, data.train);
  CHECK(m.graph.value(m.graph.at("conv1.weight")).shape == Shape{6, 3, 7, 5});
  CHECK(m.graph.value(m.graph.at("conv2.weight")).shape == Shape{8, 6, 3, 1});
  const std::vector<Shape> shapes = infer_value_shapes(m.graph, 2);
  const auto out_of = [&](const char* node) { return shapes[m.graph.node(m.graph.find_node(node)).outputs[0]]; };
  CHECK(out_of("conv1") == Shape{2, 6, 17, 19});                    // (17+6-7)+1, (19+4-5)+1
  CHECK(out_of("conv2") == Shape{2, 8, 9, 19});                     // (17+2-3)/2+1, 19
  CHECK(out_of("pool") == Shape{2, 8, 7, 9});                       // (9-3)+1, (19-2)/2+1

  // It trains end to end, and the summary shows the shapes.
  const std::string path = (dir.path / "net.yaml").string();
  std::ofstream(path) << kNonSquareGraph << "output:\n  root: " << (dir.path / "runs").string() << "\n";
  const testing::CliResult r = testing::run_morphtrain("--config " + path);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("final test accuracy"));

  // Mistakes name the file, line, layer and field.
  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = kNonSquareGraph;
    text.replace(text.find(from), from.size(), to);
    return config_from(dir, text);
  };
  const std::pair<std::string, std::string> bad[] = {
      {"padding: [3, 2]", "padding: [3, 2, 1]"},
      {"kernel: [7, 5]", "kernel: [7, 0]"},
      {"kernel: [7, 5]", "kernel: [7, x]"},
      {"padding: [1, 1, 0, 0]", "padding: [1, 2, 0, 0]"},
      {"op: maxpool2d", "op: maxpool3d"},
      {"{name: gap, op: global_avgpool2d}", "{name: gap, op: global_avgpool2d, inputs: [nowhere]}"},
      {"kernel: [7, 5], padding: [3, 2]", "kernel: [21, 5]"},
  };
  const std::string expected[] = {"c.yaml:5:", "c.yaml:5:", "c.yaml:5:", "c.yaml:8:", "c.yaml:9:", "c.yaml:10:",
                                  "conv1"};
  const std::string field[] = {"padding", "kernel", "kernel", "asymmetric padding [1, 2, 0, 0]", "maxpool3d",
                               "nowhere", "input"};
  for (size_t i = 0; i < std::size(bad); ++i) {
    INFO(bad[i].second);
    const tools::Config wrong = with(bad[i].first, bad[i].second);
    CHECK_THROWS_WITH(tools::configured_model(wrong, tools::load_data(wrong).train),
                      Contains(expected[i]) && Contains(field[i]));
  }
}
