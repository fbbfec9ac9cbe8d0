// The model zoo against PyTorch/torchvision: parameter counts, state_dict names and shapes,
// output shapes, and which layers the width options change. Only parameters are built (no
// forward pass), so even ResNet-50 is cheap.
#include <catch2/catch.hpp>

#include <algorithm>

#include "core/ops/conv2d.h"
#include "layers/zoo/model.h"
#include "layers/zoo/zoo_models.h"

using namespace mt;
using namespace mt::layers;

namespace Catch {
template <>
struct StringMaker<mt::Shape> {
  static std::string convert(const mt::Shape& s) { return s.str(); }
};
}  // namespace Catch

namespace {
ModelOptions imagenet(int64_t classes = 1000) {
  ModelOptions o;
  o.num_classes = classes;
  o.image_size = 224;
  return o;
}

Shape param_shape(const Model& m, const std::string& name) { return m.graph.value(m.graph.at(name)).shape; }
bool has(const Model& m, const std::string& name) { return m.graph.find(name) >= 0; }

// Builds with the model function itself to see every value's shape through the builder.
struct Built {
  Graph graph;
  ModelBuilder b{graph, 0};
  ValueId logits = -1;
  Built(ModelFn fn, const ModelOptions& o) {
    const ValueId x = b.input("images", {o.in_channels, o.image_size, o.image_size});
    logits = fn(b, x, o);
  }
  const Shape& shape(const std::string& value) const { return b.shape(graph.at(value)); }
};

const Conv2dOp& conv_op(const Model& m, const std::string& node) {
  return dynamic_cast<const Conv2dOp&>(*m.graph.node(m.graph.find_node(node)).op);
}

int count_nodes_of_kind(const Model& m, OpKind kind) {
  int n = 0;
  for (const auto& node : m.graph.nodes()) n += node.op->kind() == kind;
  return n;
}
}  // namespace

TEST_CASE("CIFAR ResNet-20 parameter counts equal PyTorch's", "[zoo]") {
  ModelOptions o;
  CHECK(build_model("resnet20", o).graph.num_parameters() == 269722);
  o.in_channels = 1;
  o.image_size = 28;
  CHECK(build_model("resnet20", o).graph.num_parameters() == 269434);
}

TEST_CASE("CIFAR ResNet-20 option B adds 1x1 conv + BN downsamples where the shape changes", "[zoo]") {
  ModelOptions o;
  o.shortcut = "B";
  const Model m = build_model("resnet20", o);
  // 16->32 and 32->64: conv 512 + BN 64, conv 2048 + BN 128 over option A.
  CHECK(m.graph.num_parameters() == 269722 + 512 + 64 + 2048 + 128);
  CHECK(param_shape(m, "layer2.0.downsample.0.weight") == Shape{32, 16, 1, 1});
  CHECK(param_shape(m, "layer3.0.downsample.1.running_var") == Shape{64});
  CHECK_FALSE(has(m, "layer1.0.downsample.0.weight"));
  CHECK_FALSE(has(m, "layer2.1.downsample.0.weight"));
  CHECK(conv_op(m, "layer3.0.downsample.0").desc().stride_h == 2);
}

TEST_CASE("ImageNet ResNets match torchvision's parameter counts and names", "[zoo]") {
  const ModelOptions o = imagenet();
  SECTION("resnet18") {
    const Model m = build_model("resnet18", o);
    CHECK(m.graph.num_parameters() == 11689512);
    CHECK(m.graph.state_dict().size() == 122);  // len(torchvision.models.resnet18().state_dict())
    CHECK(param_shape(m, "conv1.weight") == Shape{64, 3, 7, 7});
    CHECK(param_shape(m, "layer2.0.downsample.0.weight") == Shape{128, 64, 1, 1});
    CHECK(param_shape(m, "layer4.1.bn2.num_batches_tracked") == Shape{});
    CHECK(param_shape(m, "fc.weight") == Shape{1000, 512});
    CHECK_FALSE(has(m, "layer1.0.downsample.0.weight"));
  }
  SECTION("resnet34") {
    const Model m = build_model("resnet34", o);
    CHECK(m.graph.num_parameters() == 21797672);
    CHECK(has(m, "layer3.5.conv2.weight"));
    CHECK_FALSE(has(m, "layer3.6.conv2.weight"));
  }
  SECTION("resnet50 (v1.5: the stride on the 3x3 conv)") {
    const Model m = build_model("resnet50", o);
    CHECK(m.graph.num_parameters() == 25557032);
    CHECK(m.graph.state_dict().size() == 320);
    CHECK(param_shape(m, "layer4.2.bn3.running_var") == Shape{2048});
    CHECK(param_shape(m, "layer1.0.downsample.0.weight") == Shape{256, 64, 1, 1});
    CHECK(param_shape(m, "layer2.0.conv1.weight") == Shape{128, 256, 1, 1});
    CHECK(param_shape(m, "layer2.0.conv2.weight") == Shape{128, 128, 3, 3});
    CHECK(conv_op(m, "layer2.0.conv1").desc().stride_h == 1);
    CHECK(conv_op(m, "layer2.0.conv2").desc().stride_h == 2);
    CHECK(conv_op(m, "layer2.0.downsample.0").desc().stride_h == 2);
    CHECK(param_shape(m, "fc.weight") == Shape{1000, 2048});
  }
}

TEST_CASE("ImageNet ResNet shapes: stem, stages and logits", "[zoo]") {
  const Built r18(build_resnet18, imagenet());
  CHECK(r18.shape("maxpool") == Shape{1, 64, 56, 56});
  CHECK(r18.shape("layer2.1.relu2") == Shape{1, 128, 28, 28});
  CHECK(r18.shape("layer4.1.relu2") == Shape{1, 512, 7, 7});
  CHECK(r18.b.shape(r18.logits) == Shape{1, 1000});
  ModelOptions small;  // 3x32x32, 10 classes: still builds
  small.width_multiplier = 0.25;
  const Built r50(build_resnet50, small);
  CHECK(r50.shape("layer4.2.relu3") == Shape{1, 512, 1, 1});
  CHECK(r50.b.shape(r50.logits) == Shape{1, 10});
}

TEST_CASE("MobileNet v2 matches torchvision's module tree", "[zoo]") {
  const Model m = build_model("mobilenet_v2", imagenet());
  CHECK(m.graph.num_parameters() == 3504872);
  CHECK(param_shape(m, "features.0.0.weight") == Shape{32, 3, 3, 3});
  CHECK(param_shape(m, "features.0.1.running_mean") == Shape{32});
  // t = 1: depthwise (conv.0), projection (conv.1), BN (conv.2).
  CHECK(param_shape(m, "features.1.conv.0.0.weight") == Shape{32, 1, 3, 3});
  CHECK(param_shape(m, "features.1.conv.1.weight") == Shape{16, 32, 1, 1});
  CHECK(param_shape(m, "features.1.conv.2.running_var") == Shape{16});
  // t = 6: expansion (conv.0), depthwise (conv.1), projection (conv.2), BN (conv.3).
  CHECK(param_shape(m, "features.2.conv.0.0.weight") == Shape{96, 16, 1, 1});
  CHECK(param_shape(m, "features.2.conv.1.0.weight") == Shape{96, 1, 3, 3});
  CHECK(param_shape(m, "features.17.conv.2.weight") == Shape{320, 960, 1, 1});
  CHECK(param_shape(m, "features.17.conv.3.num_batches_tracked") == Shape{});
  CHECK(param_shape(m, "features.18.0.weight") == Shape{1280, 320, 1, 1});
  CHECK(param_shape(m, "classifier.1.weight") == Shape{1000, 1280});
  CHECK(conv_op(m, "features.2.conv.1.0").desc().groups == 96);
  CHECK(conv_op(m, "features.2.conv.1.0").desc().stride_h == 2);
  // Residuals where stride 1 keeps the width: 1 + 2 + 3 + 2 + 2 blocks.
  CHECK(count_nodes_of_kind(m, OpKind::add) == 10);
  CHECK(m.graph.find_node("features.3.add") >= 0);
  CHECK(m.graph.find_node("features.4.add") < 0);
  const Built built(build_mobilenet_v2, imagenet());
  CHECK(built.shape("features.18.2") == Shape{1, 1280, 7, 7});
  CHECK(built.b.shape(built.logits) == Shape{1, 1000});
}

TEST_CASE("MobileNet v2 widths follow torchvision's make_divisible", "[zoo]") {
  ModelOptions o = imagenet();
  o.width_multiplier = 0.5;
  Model m = build_model("mobilenet_v2", o);
  CHECK(param_shape(m, "features.0.0.weight") == Shape{16, 3, 3, 3});
  CHECK(param_shape(m, "features.1.conv.1.weight") == Shape{8, 16, 1, 1});
  CHECK(param_shape(m, "features.2.conv.2.weight") == Shape{16, 48, 1, 1});   // 24 x 0.5 -> 16
  CHECK(param_shape(m, "features.18.0.weight") == Shape{1280, 160, 1, 1});   // 1280 x max(1, m)
  // At 0.25 the stem and features.1 both round to 8: torchvision then adds a residual there.
  o.width_multiplier = 0.25;
  m = build_model("mobilenet_v2", o);
  CHECK(m.graph.find_node("features.1.add") >= 0);
  o.width_multiplier = 1;
  o.widths = {{"features.4", 40}, {"features.5.conv.0", 100}, {"features.0", 24}};
  m = build_model("mobilenet_v2", o);
  CHECK(param_shape(m, "features.0.0.weight") == Shape{24, 3, 3, 3});
  CHECK(param_shape(m, "features.1.conv.0.0.weight") == Shape{24, 1, 3, 3});
  CHECK(param_shape(m, "features.4.conv.2.weight") == Shape{40, 144, 1, 1});
  CHECK(param_shape(m, "features.6.conv.2.weight") == Shape{40, 240, 1, 1});
  CHECK(param_shape(m, "features.5.conv.0.0.weight") == Shape{100, 40, 1, 1});
  CHECK(param_shape(m, "features.5.conv.1.0.weight") == Shape{100, 1, 3, 3});
  CHECK(param_shape(m, "features.7.conv.0.0.weight") == Shape{240, 40, 1, 1});
  CHECK(m.graph.find_node("features.6.add") >= 0);
}

TEST_CASE("MobileNet v1: Howard et al.'s 4.2M parameters and our names", "[zoo]") {
  const Model m = build_model("mobilenet_v1", imagenet());
  CHECK(m.graph.num_parameters() == 4231976);
  CHECK(param_shape(m, "features.0.0.weight") == Shape{32, 3, 3, 3});
  CHECK(param_shape(m, "features.1.0.weight") == Shape{32, 1, 3, 3});
  CHECK(param_shape(m, "features.1.3.weight") == Shape{64, 32, 1, 1});
  CHECK(param_shape(m, "features.13.3.weight") == Shape{1024, 1024, 1, 1});
  CHECK(param_shape(m, "features.13.4.running_var") == Shape{1024});
  CHECK(param_shape(m, "fc.weight") == Shape{1000, 1024});
  const Built built(build_mobilenet_v1, imagenet());
  CHECK(built.shape("features.13.5") == Shape{1, 1024, 7, 7});
  CHECK(built.b.shape(built.logits) == Shape{1, 1000});
  ModelOptions o = imagenet();
  o.width_multiplier = 0.5;
  o.widths = {{"features.3", 100}};
  const Model half = build_model("mobilenet_v1", o);
  CHECK(param_shape(half, "features.0.0.weight") == Shape{16, 3, 3, 3});
  CHECK(param_shape(half, "features.3.3.weight") == Shape{100, 64, 1, 1});
  CHECK(param_shape(half, "features.4.0.weight") == Shape{100, 1, 3, 3});
  CHECK(param_shape(half, "fc.weight") == Shape{1000, 512});
}

TEST_CASE("vgg_small equals notes/bench/models.py VGGSmall", "[zoo]") {
  ModelOptions o;
  const Model m = build_model("vgg_small", o);
  CHECK(m.graph.num_parameters() == 814570);
  CHECK(param_shape(m, "features.0.weight") == Shape{32, 3, 3, 3});
  CHECK(param_shape(m, "features.1.running_var") == Shape{32});
  CHECK(param_shape(m, "features.7.weight") == Shape{64, 32, 3, 3});  // after features.6 maxpool
  CHECK(param_shape(m, "features.17.weight") == Shape{128, 128, 3, 3});
  CHECK(param_shape(m, "classifier.0.weight") == Shape{256, 2048});
  CHECK(param_shape(m, "classifier.2.weight") == Shape{10, 256});
  CHECK(m.graph.find_node("features.20") >= 0);  // the last maxpool
  o.in_channels = 1;
  o.image_size = 28;
  CHECK(build_model("vgg_small", o).graph.num_parameters() == 584618);
  const Built built(build_vgg_small, o);
  CHECK(built.shape("features.20") == Shape{1, 128, 3, 3});
  CHECK(built.b.shape(built.logits) == Shape{1, 10});
}

TEST_CASE("vgg is configurable and numbers its layers as nn.Sequential would", "[zoo]") {
  ModelOptions o;
  o.vgg_stages = {16, 32};
  o.vgg_convs_per_stage = 1;
  o.vgg_hidden = {64, 48};
  o.dropout = 0.5;
  o.widths = {{"features.4", 20}, {"classifier.3", 30}};
  const Model m = build_model("vgg", o);
  // features: 0 conv 1 bn 2 relu 3 pool 4 conv 5 bn 6 relu 7 pool;
  // classifier: 0 fc 1 relu 2 dropout 3 fc 4 relu 5 dropout 6 fc.
  CHECK(param_shape(m, "features.4.weight") == Shape{20, 16, 3, 3});
  CHECK(param_shape(m, "classifier.0.weight") == Shape{64, 20 * 8 * 8});
  CHECK(param_shape(m, "classifier.3.weight") == Shape{30, 64});
  CHECK(param_shape(m, "classifier.6.weight") == Shape{10, 30});
  CHECK(m.graph.node(m.graph.find_node("classifier.5")).op->kind() == OpKind::dropout);
  o.vgg_stages = {8, 8, 8, 8, 8, 8};
  CHECK_THROWS_AS(build_model("vgg", o), ConfigError);  // 32 pixels cannot halve 6 times
}

TEST_CASE("width multiplier and per-layer widths change the right layers", "[zoo]") {
  ModelOptions o;
  o.width_multiplier = 0.5;
  Model m = build_model("resnet20", o);
  CHECK(param_shape(m, "conv1.weight") == Shape{8, 3, 3, 3});
  CHECK(param_shape(m, "layer3.2.conv2.weight")[0] == 32);
  CHECK(param_shape(m, "fc.weight") == Shape{10, 32});
  o.width_multiplier = 1;
  o.widths = {{"layer1.1.conv1", 5}, {"layer2", 24}};
  m = build_model("resnet20", o);
  CHECK(param_shape(m, "layer1.1.conv1.weight") == Shape{5, 16, 3, 3});
  CHECK(param_shape(m, "layer1.1.conv2.weight") == Shape{16, 5, 3, 3});
  // resnet_cifar's block-internal widths default to their stage's.
  CHECK(param_shape(m, "layer2.0.conv1.weight") == Shape{24, 16, 3, 3});
  CHECK(param_shape(m, "layer2.0.conv2.weight") == Shape{24, 24, 3, 3});
  CHECK(param_shape(m, "layer3.0.conv1.weight") == Shape{64, 24, 3, 3});

  ModelOptions r = imagenet();
  r.widths = {{"layer3", 200}, {"layer4.1.conv1", 7}};
  m = build_model("resnet18", r);
  CHECK(param_shape(m, "layer3.0.downsample.0.weight") == Shape{200, 128, 1, 1});
  CHECK(param_shape(m, "layer3.1.conv2.weight") == Shape{200, 256, 3, 3});
  CHECK(param_shape(m, "layer4.0.conv1.weight") == Shape{512, 200, 3, 3});
  CHECK(param_shape(m, "layer4.1.conv1.weight") == Shape{7, 512, 3, 3});
  // A BasicBlock stem follows layer1 unless set apart, which gives layer1.0 a downsample.
  r.widths = {{"layer1", 48}};
  m = build_model("resnet18", r);
  CHECK(param_shape(m, "conv1.weight") == Shape{48, 3, 7, 7});
  CHECK_FALSE(has(m, "layer1.0.downsample.0.weight"));
  r.widths = {{"conv1", 32}};
  m = build_model("resnet18", r);
  CHECK(param_shape(m, "layer1.0.downsample.0.weight") == Shape{64, 32, 1, 1});

  ModelOptions b = imagenet();
  b.widths = {{"layer2.1.conv2", 90}, {"conv1", 40}};
  m = build_model("resnet50", b);
  CHECK(param_shape(m, "conv1.weight") == Shape{40, 3, 7, 7});
  CHECK(param_shape(m, "layer1.0.conv1.weight") == Shape{64, 40, 1, 1});
  CHECK(param_shape(m, "layer2.1.conv2.weight") == Shape{90, 128, 3, 3});
  CHECK(param_shape(m, "layer2.1.conv3.weight") == Shape{512, 90, 1, 1});
}

// The stage width already carries the multiplier; a block's first conv must not get it twice.
TEST_CASE("resnet_cifar applies the width multiplier to block-internal convs once", "[zoo]") {
  ModelOptions o;
  o.width_multiplier = 0.5;
  const Model m = build_model("resnet20", o);
  CHECK(param_shape(m, "layer1.0.conv1.weight") == Shape{8, 8, 3, 3});
  CHECK(param_shape(m, "layer3.2.conv2.weight") == Shape{32, 32, 3, 3});
}

TEST_CASE("in_channels and num_classes reach the first and last layers", "[zoo]") {
  for (const std::string name : {"resnet18", "resnet50", "mobilenet_v1", "mobilenet_v2", "vgg_small"}) {
    ModelOptions o;
    o.in_channels = 1;
    o.num_classes = 7;
    o.width_multiplier = 0.25;  // cheaper; the boundary layers do not depend on it
    const Model m = build_model(name, o);
    const auto state = m.graph.state_dict();
    INFO(name);
    CHECK(state.front().second.shape()[1] == 1);
    CHECK(param_shape(m, state[state.size() - 1].first)[0] == 7);  // the classifier's bias
  }
}

TEST_CASE("the zoo lists its models and rejects unknown names", "[zoo]") {
  const auto names = model_names();
  for (const char* n : {"resnet18", "resnet34", "resnet50", "vgg", "vgg_small", "mobilenet_v1",
                        "mobilenet_v2", "yaml"})
    CHECK(std::find(names.begin(), names.end(), n) != names.end());
  try {
    build_model("resnet51", {});
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Catch::Contains("resnet50") && Catch::Contains("mobilenet_v2"));
  }
}
