// The op-handler table: complete over the op set, and an op kind it has no row for is refused
// by name in every pass that meets it, never silently made unprunable.
#include <catch2/catch.hpp>

#include <cmath>

#include "core/ops/relu.h"
#include "layers/builder.h"
#include "morph/channel_groups.h"
#include "morph/handlers/op_handler.h"
#include "morph/masked_constants.h"
#include "tests/morph/test_models.h"

using namespace mt;
using Catch::Contains;

namespace {

// An op outside the engine's op set: morph cannot know how its channels relate.
class ChannelShuffleOp : public Op {
 public:
  OpKind kind() const override { return OpKind::custom; }
  std::string kind_name() const override { return "channel_shuffle"; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override { return {in[0]}; }
  void forward(OpContext&) const override { MT_FAIL(BackendError, "not runnable"); }
  void backward(OpContext&) const override { MT_FAIL(BackendError, "not runnable"); }
};

}  // namespace

TEST_CASE("every op kind of the set has a morph handler", "[morph]") {
  for (OpKind k : kAllOpKinds) {
    INFO("kind " << op_kind_name(k));
    CHECK(morph::find_handler(k) != nullptr);
  }
  CHECK(morph::find_handler(OpKind::custom) == nullptr);
}

TEST_CASE("handlers say which channels are regularization sources", "[morph]") {
  auto net = test::make_tiny_net();
  const Graph& g = net->m.graph;
  const morph::ChannelGroups groups(g, net->logits);
  auto role = [&](const char* name) {
    const int n = g.find_node(name);
    return morph::handler_for(g, n).role(groups, n);
  };
  CHECK(role("a") == morph::ChannelRole::filters);
  CHECK(role("e") == morph::ChannelRole::none);  // depthwise: keeps its input's channels
  CHECK(role("a_bn") == morph::ChannelRole::batchnorm);
  CHECK(role("a_gate") == morph::ChannelRole::gate);
  CHECK(role("fc") == morph::ChannelRole::filters);
  CHECK(role("r") == morph::ChannelRole::none);
  CHECK(morph::handler_for(g, g.find_node("cat")).cost_reads_output());
  CHECK_FALSE(morph::handler_for(g, g.find_node("r")).counts_compute());
  CHECK(morph::handler_for(g, g.find_node("r")).counts_memory());
}

TEST_CASE("relu6, hardsigmoid, hardswish pass channels through; a masked 0 becomes f(0)", "[morph]") {
  using Act = ValueId (layers::ModelBuilder::*)(const std::string&, ValueId);
  const struct {
    const char* name;
    Act act;
    double at_zero;     // what a ResRep-masked (zero) channel carries after the op
    bool counts_memory;  // MorphNet's latency model lists Relu6, not the hard sigmoids
  } cases[] = {{"relu6", &layers::ModelBuilder::relu6, 0.0, true},
               {"hardsigmoid", &layers::ModelBuilder::hardsigmoid, 0.5, false},
               {"hardswish", &layers::ModelBuilder::hardswish, 0.0, false}};
  for (const auto& c : cases) {
    INFO(c.name);
    Graph g;
    layers::ModelBuilder b(g, 3);
    b.set_compactors(true);
    const ValueId images = b.input("images", {3, 6, 6});
    const ValueId conv = b.conv2d("a", images, 4, 3);
    const ValueId act = (b.*c.act)("a_act", b.batchnorm2d("a_bn", conv));  // after a's compactor
    // Squeeze-excitation: the [N, C, 1, 1] gate is tied channel by channel to what it scales.
    ValueId se = b.conv2d("se_fc", b.global_avgpool2d("se_pool", act), 4, 1);
    se = b.mul("se_mul", act, (b.*c.act)("se_act", se));
    const ValueId logits = b.linear("fc", b.flatten("flat", b.global_avgpool2d("gap", se)), 3);
    g.mark_output(logits);

    const morph::ChannelGroups groups(g, logits);
    CHECK(groups.channel_groups(act) == groups.channel_groups(conv));
    CHECK(groups.channel_groups(g.at("se_fc")) == groups.channel_groups(conv));
    CHECK(morph::handler_for(g, g.find_node("a_act")).counts_memory() == c.counts_memory);
    CHECK_FALSE(morph::handler_for(g, g.find_node("a_act")).counts_compute());

    std::vector<bool> masked(groups.num_groups(), false);
    masked[groups.group_of(conv, 2)] = true;
    const auto constants = morph::masked_constants(groups, masked);
    CHECK(constants[act][2] == c.at_zero);
    CHECK(std::isnan(constants[act][1]));  // an unmasked channel varies, and stays NaN
  }
}

TEST_CASE("an op kind without a handler is an error naming the op and its kind", "[morph]") {
  test::NetMaker m;
  const ValueId x = m.input("images", 3, 4, 4);
  const ValueId c = m.conv("conv", x, 4, 3);
  const ValueId shuffled = m.graph.add("shuffle", std::make_shared<ChannelShuffleOp>(), {c});
  const ValueId y = m.graph.add("relu", std::make_shared<ReluOp>(), {shuffled});
  CHECK_THROWS_WITH(morph::ChannelGroups(m.graph, y),
                    Contains("cannot handle op 'shuffle' of kind channel_shuffle"));
}
