// Cost models against the summary's MAC count, parameter counts and costs counted by hand.
#include <catch2/catch.hpp>

#include "layers/summary.h"
#include "layers/zoo/model.h"
#include "morph/cost_model.h"
#include "tests/morph/test_models.h"

using namespace mt;
using morph::ChannelGroups;
using morph::CostModel;
using morph::CostOptions;
using morph::CostTarget;

namespace {

CostOptions target(CostTarget t) {
  CostOptions o;
  o.target = t;
  return o;
}

// Conv and linear weights (and biases) straight from the graph.
int64_t weight_count(const Graph& g, bool biases) {
  int64_t n = 0;
  for (const Node& node : g.nodes()) {
    if (node.op->kind() != OpKind::conv2d && node.op->kind() != OpKind::linear) continue;
    for (size_t i = 1; i < node.inputs.size(); ++i)
      if (i == 1 || biases) n += g.value(node.inputs[i]).data.numel();
  }
  return n;
}

// Marks the first `dead` groups of a node's output channels dead.
void kill(const ChannelGroups& g, std::vector<bool>& alive, const std::string& node, int dead) {
  const auto& gs = g.channel_groups(g.graph().at(node));
  for (int c = 0; c < dead; ++c) alive[gs[c]] = false;
}

double op_cost(const CostModel& m, const std::vector<bool>& alive, const std::string& name) {
  const auto costs = m.op_costs(alive);
  for (size_t i = 0; i < m.ops().size(); ++i)
    if (m.ops()[i].name == name) return costs[i].cost;
  FAIL("no op " << name);
  return 0;
}

}  // namespace

TEST_CASE("full FLOPs are twice the summary's MACs", "[morph][cost]") {
  const std::string name = GENERATE(as<std::string>{}, "resnet20", "vgg_small", "mobilenet_v2");
  const std::string shortcut = GENERATE(as<std::string>{}, "A", "B");
  layers::ModelOptions o;
  o.shortcut = shortcut;
  const layers::Model model = layers::build_model(name, o);
  const ChannelGroups g(model.graph, model.logits);
  const CostModel flops(g, target(CostTarget::flops));
  INFO(name << " " << shortcut);
  CHECK(flops.full_cost() == 2.0 * static_cast<double>(layers::summarize(model.graph).total_macs));
  if (name == "resnet20" && shortcut == "A") {
    CHECK(flops.full_cost() == 81'102'080.0);  // 40.55 MMACs: 40,551,040 exactly
    CHECK(flops.cost_name() == "FLOPs");
  }
}

TEST_CASE("full model size is the conv and linear weight count", "[morph][cost]") {
  for (const char* name : {"resnet20", "vgg_small", "mobilenet_v2"}) {
    const layers::Model model = layers::build_model(name, {});
    const ChannelGroups g(model.graph, model.logits);
    CostOptions o = target(CostTarget::model_size);
    INFO(name);
    CHECK(CostModel(g, o).full_cost() == static_cast<double>(weight_count(model.graph, false)));
    o.count_bias = true;
    CHECK(CostModel(g, o).full_cost() == static_cast<double>(weight_count(model.graph, true)));
  }
  const layers::Model r20 = layers::build_model("resnet20", {});
  CHECK(CostModel(ChannelGroups(r20.graph, r20.logits), target(CostTarget::model_size)).full_cost() ==
        268'336.0);  // 432 + 13,824 + 50,688 + 202,752 conv weights + 640 fc weights
}

TEST_CASE("vgg_small FLOPs and size for chosen alive counts match a hand count", "[morph][cost]") {
  const layers::Model model = layers::build_model("vgg_small", {});
  const ChannelGroups g(model.graph, model.logits);
  std::vector<bool> alive(g.num_groups(), true);
  // Alive widths: 20, 32, 40, 64, 100, 77 convs and 200 hidden units.
  kill(g, alive, "features.0", 12);
  kill(g, alive, "features.7", 24);
  kill(g, alive, "features.14", 28);
  kill(g, alive, "features.17", 51);
  kill(g, alive, "classifier.0", 56);
  const double a0 = 20, a1 = 32, a2 = 40, a3 = 64, a4 = 100, a5 = 77, h = 200;
  const double macs = 32 * 32 * 9 * (3 * a0 + a0 * a1) + 16 * 16 * 9 * (a1 * a2 + a2 * a3) +
                      8 * 8 * 9 * (a3 * a4 + a4 * a5) + (a5 * 16) * h + h * 10;
  CHECK(CostModel(g, target(CostTarget::flops)).cost(alive) == 2 * macs);
  const double weights = 9 * (3 * a0 + a0 * a1 + a1 * a2 + a2 * a3 + a3 * a4 + a4 * a5) + a5 * 16 * h + h * 10;
  CHECK(CostModel(g, target(CostTarget::model_size)).cost(alive) == weights);
}

TEST_CASE("removing one block's inner channels saves exactly their FLOPs", "[morph][cost]") {
  const layers::Model model = layers::build_model("resnet20", {});
  const ChannelGroups g(model.graph, model.logits);
  const CostModel flops(g, target(CostTarget::flops));
  std::vector<bool> alive(g.num_groups(), true);
  kill(g, alive, "layer1.0.conv1", 4);
  // conv1 loses 4 of 16 outputs, conv2 4 of 16 inputs: 2 x 32 x 32 x 9 x 16 x 4 each.
  CHECK(flops.full_cost() - flops.cost(alive) == 2.0 * 2 * 1024 * 9 * 16 * 4);
}

TEST_CASE("latency is MorphNet's roofline per op", "[morph][cost][latency]") {
  const layers::Model model = layers::build_model("vgg_small", {});
  const ChannelGroups g(model.graph, model.logits);
  std::vector<bool> alive(g.num_groups(), true);
  kill(g, alive, "features.0", 12);  // 20 of 32 alive
  CostOptions o = target(CostTarget::latency);
  o.batch_size = 8;

  SECTION("a compute-bound and a memory-bound op on a custom device") {
    o.hardware = morph::custom_hardware("toy", 100, 10);  // GFLOP/s, GB/s
    const CostModel lat(g, o);
    // features.0: 3 -> 20 channels at 32 x 32, f32.
    const double flops = 8 * 2.0 * 1024 * 9 * 3 * 20;
    const double bytes = 8 * (1024 * 3 * 4.0 + 1024 * 20 * 4.0) + 9 * 3 * 20 * 4.0;
    CHECK(op_cost(lat, alive, "features.0") == Approx(std::max(flops / 100, bytes / 10)).epsilon(1e-12));
    // features.1, the batch norm: no FLOPs, reads and writes 20 channels.
    CHECK(op_cost(lat, alive, "features.1") == Approx(8 * 2 * 1024 * 20 * 4.0 / 10).epsilon(1e-12));
    CHECK(lat.cost_name() == "toy Latency");
  }
  SECTION("FLOP_LATENCY and MEMORY_LATENCY isolate the two bounds") {
    o.hardware = morph::hardware_by_name("FLOP_LATENCY");  // 1 GFLOP/s, infinite bandwidth
    o.batch_size = 1;
    CHECK(CostModel(g, o).cost(alive) == Approx(CostModel(g, target(CostTarget::flops)).cost(alive)).epsilon(1e-12));
    o.hardware = morph::hardware_by_name("MEMORY_LATENCY");  // 1 GB/s, infinite compute
    const CostModel mem(g, o);
    // features.3: 32 x 32 x (20 in + 32 out) x 4 bytes + 9 x 20 x 32 weights x 4 bytes.
    CHECK(op_cost(mem, alive, "features.3") == Approx(1024 * 52 * 4.0 + 9 * 20 * 32 * 4.0).epsilon(1e-12));
    // The flatten -> fc: all 128 x 16 input features alive, 256 outputs.
    CHECK(op_cost(mem, alive, "classifier.0") == Approx((2048 + 256) * 4.0 + 2048 * 256 * 4.0).epsilon(1e-12));
  }
  SECTION("the named tables are MorphNet's") {
    CHECK(morph::hardware_by_name("V100").peak_gflops == 125000);
    CHECK(morph::hardware_by_name("V100").memory_gbps == 900);
    CHECK(morph::hardware_by_name("K80").peak_gflops == 8740);
    CHECK(morph::hardware_by_name("P100").memory_gbps == 732);
    CHECK(morph::hardware_by_name("TPUv2").peak_gflops == 22500);
    CHECK_THROWS_AS(morph::hardware_by_name("H100"), ConfigError);
    CHECK_THROWS_AS(morph::custom_hardware("bad", 0, 1), ConfigError);
  }
}

TEST_CASE("depthwise convs cost per channel; concat and add move their channels", "[morph][cost]") {
  auto net = test::make_tiny_net();
  const ChannelGroups g(net->m.graph, net->logits);
  const CostModel flops(g, target(CostTarget::flops));
  std::vector<bool> alive(g.num_groups(), true);
  alive[12] = alive[13] = false;  // two of d's (and so e's) five channels
  alive[5] = false;               // one of the b + s channels
  // a: 3->4 @6x6 k3; b: 4->3 @6x6 k3; s: 4->3 @6x6 k1; c: 4->3 @6x6 k1; d: (3+3)->3 @3x3 k3;
  // e: depthwise 3 @3x3 k3; fc 3->4.
  const double macs = 36 * 9 * 3 * 4 + 36 * 9 * 4 * 3 + 36 * 4 * 3 + 36 * 4 * 3 + 9 * 9 * 6 * 3 + 9 * 9 * 3 + 3 * 4;
  CHECK(flops.cost(alive) == 2 * macs);
  CostOptions size = target(CostTarget::model_size);
  const double weights = 9 * 3 * 4 + 9 * 4 * 3 + 4 * 3 + 4 * 3 + 9 * 6 * 3 + 9 * 3 + 3 * 4;
  CHECK(CostModel(g, size).cost(alive) == weights);
  size.count_bias = true;  // only the fc has a bias: 4
  CHECK(CostModel(g, size).cost(alive) == weights + 4);
}

TEST_CASE("ImageNet ResNets: FLOPs twice the MACs, model size the weights", "[morph][cost]") {
  const std::string name = GENERATE(as<std::string>{}, "resnet18", "resnet50");
  layers::ModelOptions o;
  o.image_size = 64;
  o.num_classes = 100;
  const layers::Model model = layers::build_model(name, o);
  const ChannelGroups g(model.graph, model.logits);
  INFO(name);
  CHECK(CostModel(g, target(CostTarget::flops)).full_cost() ==
        2.0 * static_cast<double>(layers::summarize(model.graph).total_macs));
  CHECK(CostModel(g, target(CostTarget::model_size)).full_cost() ==
        static_cast<double>(weight_count(model.graph, false)));
  CHECK(g.num_groups() > 0);
}
