// Networks written in YAML: what they build, and the message of every kind of mistake (each names
// file:line:col, the layer and the field).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/ops/conv2d.h"
#include "core/ops/pool2d.h"
#include "layers/yaml_graph.h"
#include "layers/yaml_graph_ops.h"
#include "layers/zoo/model.h"

using namespace mt;
using namespace mt::layers;
using Catch::Contains;

namespace Catch {
template <>
struct StringMaker<mt::Shape> {
  static std::string convert(const mt::Shape& s) { return s.str(); }
};
}  // namespace Catch

namespace {
const std::filesystem::path kRepo = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();

// A small ResNet-like net: a residual add and a concat of two branches.
const char* kResidualNet = R"(
layers:
  - {name: conv1, op: conv2d, out_channels: 8, kernel: 3, padding: 1}
  - {name: bn1, op: batchnorm2d}
  - {name: relu1, op: relu}
  - {name: conv2, op: conv2d, out_channels: 8, kernel: 3, padding: 1}
  - {name: bn2, op: batchnorm2d, eps: 0.001}
  - {name: add1, op: add, inputs: [bn2, relu1]}
  - {name: relu2, op: relu}
  - {name: branch, op: conv2d, out_channels: 4, kernel: 1, inputs: relu1}
  - {name: cat, op: concat, inputs: [relu2, branch]}
  - {name: pool, op: maxpool2d, kernel: 2}
  - {name: gap, op: global_avgpool2d}
  - {name: flat, op: flatten}
  - {name: drop, op: dropout, p: 0.1}
  - {name: fc, op: linear, out_features: 10}
)";

struct Net {
  Graph graph;
  ModelBuilder b{graph, 0};
  ValueId logits = -1;
  explicit Net(const std::string& text, const ModelOptions* o = nullptr, const Shape& in = {3, 16, 16}) {
    logits = build_yaml_graph(b, b.input("images", in), YAML::Load(text), "net.yaml", o);
  }
  const Shape& shape(const std::string& v) const { return b.shape(graph.at(v)); }
  const Op& op(const std::string& node) const { return *graph.node(graph.find_node(node)).op; }
};

std::string error_of(const std::string& text, const ModelOptions* o = nullptr) {
  try {
    Net net(text, o);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

// "net.yaml:line:col" of the first occurrence of `needle` in `text` (what yaml-cpp should mark).
std::string where(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  REQUIRE(at != std::string::npos);
  const size_t line_start = text.rfind('\n', at) == std::string::npos ? 0 : text.rfind('\n', at) + 1;
  const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(at), '\n');
  return "net.yaml:" + std::to_string(line) + ":" + std::to_string(at - line_start + 1);
}
}  // namespace

TEST_CASE("a YAML net with a residual add and a concat builds with the right params and shapes", "[yaml]") {
  const Net net(kResidualNet);
  // conv1 216, bn1 16, conv2 576, bn2 16, branch 32, fc 12 x 10 + 10.
  CHECK(net.graph.num_parameters() == 216 + 16 + 576 + 16 + 32 + 130);
  CHECK(net.shape("add1") == Shape{1, 8, 16, 16});
  CHECK(net.shape("cat") == Shape{1, 12, 16, 16});
  CHECK(net.shape("pool") == Shape{1, 12, 8, 8});
  CHECK(net.b.shape(net.logits) == Shape{1, 10});
  CHECK(net.graph.find("bn2.running_var") >= 0);
  CHECK(net.graph.find("fc.bias") >= 0);
  CHECK(net.graph.find("conv1.bias") < 0);
  // `inputs: relu1` (one name, no list) and the defaults: each layer reads the one above.
  const Node& add = net.graph.node(net.graph.find_node("add1"));
  CHECK(add.inputs == std::vector<ValueId>{net.graph.at("bn2"), net.graph.at("relu1")});
  CHECK(net.graph.node(net.graph.find_node("branch")).inputs[0] == net.graph.at("relu1"));
  CHECK(net.graph.node(net.graph.find_node("conv1")).inputs[0] == net.graph.at("images"));
  CHECK(net.op("bn2").attributes()["eps"] == 0.001);
}

TEST_CASE("YAML attributes reach the ops", "[yaml]") {
  const Net net(R"(
- {name: c, op: conv2d, out_channels: 6, kernel: 3, stride: 2, padding: 2, dilation: 2, groups: 3, bias: true}
- {name: p, op: avgpool2d, kernel: 3, padding: 1, ceil_mode: yes, count_include_pad: false}
- {name: m, op: maxpool2d, kernel: 2, stride: 1}
- {name: pad, op: channel_pad, pad_before: 1, pad_after: 2, stride: 2}
)");
  const auto& conv = dynamic_cast<const Conv2dOp&>(net.op("c"));
  CHECK(conv.desc().stride_h == 2);
  CHECK(conv.desc().pad_h == 2);
  CHECK(conv.desc().dilation_h == 2);
  CHECK(conv.desc().groups == 3);
  CHECK(conv.has_bias());
  CHECK(net.graph.value(net.graph.at("c.weight")).shape == Shape{6, 1, 3, 3});
  const auto& avg = dynamic_cast<const AvgPool2dOp&>(net.op("p"));
  CHECK(avg.desc().stride_h == 3);  // the kernel, as in PyTorch
  CHECK(avg.desc().ceil_mode);
  CHECK_FALSE(avg.desc().count_include_pad);
  CHECK(dynamic_cast<const MaxPool2dOp&>(net.op("m")).desc().stride_h == 1);
  CHECK(net.shape("c") == Shape{1, 6, 8, 8});
  CHECK(net.shape("p") == Shape{1, 6, 3, 3});
  CHECK(net.shape("pad") == Shape{1, 9, 1, 1});
}

TEST_CASE("YAML relu6, hardsigmoid, hardswish and a squeeze-excitation mul", "[yaml]") {
  // A MobileNetV3 block: the SE gate is [N, C, 1, 1] (global_avgpool2d keeps H = W = 1).
  const Net net(R"(
- {name: conv1, op: conv2d, out_channels: 8, kernel: 3, padding: 1}
- {name: act1, op: hardswish}
- {name: se_pool, op: global_avgpool2d}
- {name: se_fc1, op: conv2d, out_channels: 4, kernel: 1, bias: true}
- {name: se_relu, op: relu6}
- {name: se_fc2, op: conv2d, out_channels: 8, kernel: 1, bias: true}
- {name: se_gate, op: hardsigmoid}
- {name: se_mul, op: mul, inputs: [act1, se_gate]}
- {name: gap, op: global_avgpool2d}
- {name: flat, op: flatten}
- {name: fc, op: linear, out_features: 10}
)");
  CHECK(net.op("act1").kind() == OpKind::hardswish);
  CHECK(net.op("se_relu").kind() == OpKind::relu6);
  CHECK(net.op("se_gate").kind() == OpKind::hardsigmoid);
  CHECK(net.op("se_relu").kind_name() == "relu6");
  CHECK(net.shape("act1") == Shape{1, 8, 16, 16});
  CHECK(net.shape("se_gate") == Shape{1, 8, 1, 1});
  CHECK(net.shape("se_mul") == Shape{1, 8, 16, 16});
  CHECK(net.b.shape(net.logits) == Shape{1, 10});
  // The activations take no attributes.
  CHECK_THAT(error_of("- {name: a, op: relu6, max: 6}\n"), Contains("max"));
}

TEST_CASE("configs/models/resnet8.yaml is the zoo's resnet_cifar at depth 8", "[yaml]") {
  ModelOptions o;
  o.graph_source = (kRepo / "configs/models/resnet8.yaml").string();
  const Model yaml = build_model("yaml", o);
  o.depth = 8;
  const Model zoo = build_model("resnet_cifar", o);
  const auto a = yaml.graph.state_dict(), b = zoo.graph.state_dict();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].first == b[i].first);
    CHECK(a[i].second.shape() == b[i].second.shape());
  }
  REQUIRE(yaml.graph.nodes().size() == zoo.graph.nodes().size());
  for (size_t i = 0; i < yaml.graph.nodes().size(); ++i) {
    CHECK(yaml.graph.node(static_cast<int>(i)).name == zoo.graph.node(static_cast<int>(i)).name);
    CHECK(yaml.graph.node(static_cast<int>(i)).op->kind() == zoo.graph.node(static_cast<int>(i)).op->kind());
  }
  // stem 432 + 32, layer1 4608 + 64, layer2 13824 + 128, layer3 55296 + 256, fc 650.
  CHECK(yaml.graph.num_parameters() == 75290);
}

TEST_CASE("build_model(\"yaml\") applies num_classes and the widths map", "[yaml]") {
  ModelOptions o;
  o.num_classes = 7;
  o.image_size = 16;
  o.graph_spec = YAML::Load(R"(
- {name: conv1, op: conv2d, out_channels: 8, kernel: 3, padding: 1}
- {name: conv2, op: conv2d, out_channels: 8, kernel: 3}
- {name: gap, op: global_avgpool2d}
- {name: flat, op: flatten}
- {name: hidden, op: linear, out_features: 32}
- {name: fc, op: linear}
)");
  o.widths = {{"conv1", 5}, {"hidden", 9}};
  const Model m = build_model("yaml", o);
  CHECK(m.graph.value(m.graph.at("conv1.weight")).shape == Shape{5, 3, 3, 3});
  CHECK(m.graph.value(m.graph.at("conv2.weight")).shape == Shape{8, 5, 3, 3});
  CHECK(m.graph.value(m.graph.at("hidden.weight")).shape == Shape{9, 8});
  CHECK(m.graph.value(m.graph.at("fc.weight")).shape == Shape{7, 9});
  CHECK(m.logits == m.graph.at("fc"));
  o.widths.clear();
  o.width_multiplier = 0.5;
  const Model half = build_model("yaml", o);
  CHECK(half.graph.value(half.graph.at("conv2.weight")).shape == Shape{4, 4, 3, 3});
  CHECK(half.graph.value(half.graph.at("fc.weight")).shape == Shape{7, 16});
  CHECK_THROWS_AS(build_model("yaml", ModelOptions{}), ConfigError);  // no graph given
}

TEST_CASE("YAML graph errors name the file position, the layer and the field", "[yaml]") {
  SECTION("unknown op, with a suggestion and the known list") {
    const std::string text = "- name: c1\n  op: conv3d\n  out_channels: 4\n";
    const std::string e = error_of(text);
    CHECK_THAT(e, Contains(where(text, "conv3d")) && Contains("layer 'c1'") && Contains("field 'op'"));
    CHECK_THAT(e, Contains("did you mean 'conv2d'") && Contains("known: add, avgpool2d"));
  }
  SECTION("missing attribute") {
    const std::string text = "- name: c1\n  op: conv2d\n  out_channels: 4\n";
    const std::string e = error_of(text);
    CHECK_THAT(e, Contains(where(text, "name: c1")) && Contains("layer 'c1' (conv2d)") &&
                      Contains("field 'kernel'") && Contains("missing"));
  }
  SECTION("unknown attribute: a near miss gets a suggestion") {
    const std::string text = "- name: c1\n  op: conv2d\n  out_channels: 4\n  kernal: 3\n";
    const std::string e = error_of(text);
    CHECK_THAT(e, Contains(where(text, "kernal")) && Contains("layer 'c1'") &&
                      Contains("field 'kernal'") && Contains("did you mean 'kernel'?"));
    const std::string far = "- {name: r, op: relu, colour: red}\n";
    const std::string e2 = error_of(far);
    CHECK_THAT(e2, Contains(where(far, "colour")) && Contains("field 'colour'") &&
                       Contains("relu takes no attributes"));
    CHECK_THAT(e2, !Contains("did you mean"));
  }
  SECTION("wrong types and values") {
    const std::string text = "- {name: c1, op: conv2d, out_channels: 4, kernel: 3.5}\n";
    CHECK_THAT(error_of(text), Contains(where(text, "3.5")) && Contains("field 'kernel'") &&
                                   Contains("expected an integer, got '3.5'"));
    // [kh, kw] is a kernel; three numbers are not, nor is a list where one number belongs.
    const std::string list = "- {name: c1, op: conv2d, out_channels: 4, kernel: [3, 3, 3]}\n";
    CHECK_THAT(error_of(list), Contains(where(list, "[3, 3, 3]")) && Contains("expected k or [kh, kw]"));
    const std::string groups = "- {name: c1, op: conv2d, out_channels: 4, kernel: 3, groups: [1, 1]}\n";
    CHECK_THAT(error_of(groups), Contains(where(groups, "[1, 1]")) && Contains("got a list"));
    const std::string flag = "- {name: c1, op: conv2d, out_channels: 4, kernel: 3, bias: maybe}\n";
    CHECK_THAT(error_of(flag), Contains(where(flag, "maybe")) && Contains("field 'bias'") &&
                                   Contains("true or false"));
    const std::string zero = "- {name: c1, op: conv2d, out_channels: 4, kernel: 3, stride: 0}\n";
    CHECK_THAT(error_of(zero), Contains(where(zero, "0}")) && Contains("field 'stride'") &&
                                   Contains("[1, "));
    const std::string drop = "- {name: d, op: dropout, p: 1}\n";
    CHECK_THAT(error_of(drop), Contains(where(drop, "1}")) && Contains("layer 'd'") &&
                                   Contains("field 'p'") && Contains("below 1"));
  }
  SECTION("unknown, later and own inputs") {
    const std::string text = "- {name: relu1, op: relu}\n- {name: s, op: add, inputs: [relu1, relu9]}\n";
    CHECK_THAT(error_of(text), Contains(where(text, "relu9")) && Contains("layer 's'") &&
                                   Contains("field 'inputs'") && Contains("unknown input 'relu9'") &&
                                   Contains("did you mean 'relu1'"));
    const std::string later = "- {name: a, op: relu, inputs: [b]}\n- {name: b, op: relu}\n";
    CHECK_THAT(error_of(later), Contains(where(later, "b]")) && Contains("layer 'a'") &&
                                    Contains("field 'inputs'") && Contains("defined later (at " + where(later, "b, op")));
    const std::string self = "- {name: a, op: relu, inputs: [a]}\n";
    CHECK_THAT(error_of(self), Contains("layer 'a'") && Contains("its own output"));
  }
  SECTION("the number of inputs") {
    const std::string text = "- {name: r, op: relu}\n- {name: s, op: add}\n";
    CHECK_THAT(error_of(text), Contains(where(text, "{name: s")) && Contains("layer 's' (add)") &&
                                   Contains("field 'inputs'") && Contains("takes 2 input(s), got 1"));
    const std::string two = "- {name: r, op: relu, inputs: [images, images]}\n";
    CHECK_THAT(error_of(two), Contains(where(two, "[images")) && Contains("takes 1 input(s), got 2"));
  }
  SECTION("duplicate and reserved names") {
    const std::string text = "- {name: c1, op: relu}\n- {name: c1, op: relu}\n";
    const std::string e = error_of(text);
    CHECK_THAT(e, Contains("net.yaml:2:10") && Contains("layer 'c1'") && Contains("field 'name'") &&
                      Contains("duplicate layer name (first defined at net.yaml:1:10)"));
    CHECK_THAT(error_of("- {name: images, op: relu}\n"),
               Contains("net.yaml:1:10") && Contains("field 'name'") && Contains("network's input"));
    ModelOptions o;
    CHECK_THAT(error_of("- {name: loss, op: relu}\n", &o), Contains("net.yaml:1:10") && Contains("model's loss"));
    const std::string clash = "- {name: c, op: conv2d, out_channels: 2, kernel: 1}\n- {name: c.weight, op: relu}\n";
    CHECK_THAT(error_of(clash), Contains(where(clash, "c.weight")) && Contains("already has a value"));
  }
  SECTION("shape errors from the builder carry the layer") {
    const std::string text =
        "- {name: a, op: conv2d, out_channels: 4, kernel: 1}\n"
        "- {name: b, op: conv2d, out_channels: 8, kernel: 1, inputs: [images]}\n"
        "- {name: sum, op: add, inputs: [a, b]}\n";
    CHECK_THAT(error_of(text), Contains(where(text, "{name: sum")) && Contains("layer 'sum' (add)"));
    const std::string fc = "- {name: fc, op: linear, out_features: 3}\n";
    CHECK_THAT(error_of(fc), Contains("net.yaml:1:3") && Contains("layer 'fc' (linear)") &&
                                 Contains("add a flatten"));
    const std::string groups = "- {name: g, op: conv2d, out_channels: 4, kernel: 1, groups: 2}\n";
    CHECK_THAT(error_of(groups), Contains("layer 'g' (conv2d)") && Contains("groups 2"));
  }
  SECTION("malformed lists and entries") {
    CHECK_THAT(error_of("[]"), Contains("net.yaml:1:1") && Contains("empty list"));
    CHECK_THAT(error_of("{layer: []}"), Contains("did you mean 'layers'?"));
    const std::string entry = "- {name: r, op: relu}\n- relu\n";
    CHECK_THAT(error_of(entry), Contains("net.yaml:2:3") && Contains("layer #2") && Contains("expected a map"));
    const std::string nameless = "- {op: relu}\n";
    CHECK_THAT(error_of(nameless), Contains("net.yaml:1:3") && Contains("layer #1") && Contains("field 'name'"));
  }
  SECTION("logits that do not fit the classes") {
    ModelOptions o;
    const std::string text = "- {name: flat, op: flatten}\n- {name: fc, op: linear, out_features: 5}\n";
    CHECK_THAT(error_of(text, &o), Contains(where(text, "{name: fc")) && Contains("layer 'fc'") &&
                                       Contains("logits") && Contains("10 classes"));
  }
}

TEST_CASE("YAML syntax errors in a graph file name the file, line and column", "[yaml]") {
  const auto path = std::filesystem::temp_directory_path() / "mt_test_bad_graph.yaml";
  std::ofstream(path) << "layers:\n  - {name: a, op: relu\n  - {name: b}\n";
  try {
    load_yaml_graph(path.string());
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Contains(path.string() + ":") && Contains("syntax error"));
  }
  std::filesystem::remove(path);
  CHECK_THROWS_AS(load_yaml_graph("/nonexistent/graph.yaml"), ConfigError);
}

TEST_CASE("did_you_mean takes near misses only", "[yaml]") {
  CHECK(did_you_mean("kernal", {"kernel", "stride"}) == "kernel");
  CHECK(did_you_mean("strde", {"kernel", "stride"}) == "stride");
  CHECK(did_you_mean("colour", {"kernel", "stride"}).empty());
  CHECK(did_you_mean("esp", {"eps", "momentum"}) == "eps");  // a swap is one edit
  CHECK(did_you_mean("q", {"p"}).empty());
}
