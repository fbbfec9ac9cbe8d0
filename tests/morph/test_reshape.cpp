// The reshaper: with the removed channels dead (exactly zero after their batch norms), the slim
// model computes what the dense model computes; its parameters, MACs and costs are what the dense
// model's cost model predicted for the selection.
#include <catch2/catch.hpp>

#include "core/ops/channel_pad.h"
#include "core/ops/conv2d.h"
#include "layers/summary.h"
#include "morph/network_regularizer.h"
#include "morph/reshape.h"
#include "tests/morph/reshape_test_util.h"

using namespace mt;
using namespace mt::test;
using Catch::Contains;

namespace {

layers::Model build(const std::string& which) {
  if (which == "concat") return make_concat_model();
  layers::ModelOptions o;
  o.image_size = which == "vgg_small" || which == "mobilenet_v2" ? 32 : 16;
  if (which == "resnet20_A" || which == "resnet20_B") {
    o.shortcut = which.substr(9);
    return layers::build_model("resnet20", o);
  }
  return layers::build_model(which, o);
}

// Channels (of the given kind's ops) whose group is not alive: what the reshape removes there.
int64_t dead_channels(const morph::ChannelGroups& groups, const morph::ChannelSelection& s,
                      OpKind kind) {
  int64_t n = 0;
  for (int node : groups.nodes()) {
    if (groups.graph().node(node).op->kind() != kind) continue;
    for (int g : groups.channel_groups(groups.graph().node(node).outputs[0]))
      n += g != morph::ChannelGroups::kNone && !s.alive(g);
  }
  return n;
}

std::vector<std::string> state_names(const Graph& g) {
  std::vector<std::string> out;
  for (const auto& [name, t] : g.state_dict()) out.push_back(name);
  return out;
}

void check_costs_agree(const layers::Model& dense, const layers::Model& slim,
                       const morph::ChannelSelection& keep) {
  const morph::ChannelGroups dense_groups(dense.graph, dense.logits);
  const morph::ChannelGroups slim_groups(slim.graph, slim.logits);
  for (auto target : {morph::CostTarget::flops, morph::CostTarget::model_size, morph::CostTarget::latency}) {
    morph::CostOptions o;
    o.target = target;
    o.count_bias = true;
    const double predicted = morph::CostModel(dense_groups, o).cost(keep.alive_groups());
    INFO(morph::cost_target_name(target));
    CHECK(morph::CostModel(slim_groups, o).full_cost() == Approx(predicted).epsilon(1e-12));
    if (target == morph::CostTarget::flops)
      CHECK(2.0 * static_cast<double>(layers::summarize(slim.graph).total_macs) == Approx(predicted).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("reshape: the slim model computes what the dense one does with dead channels", "[morph][reshape]") {
  const std::string which =
      GENERATE(as<std::string>{}, "resnet20_A", "resnet20_B", "vgg_small", "mobilenet_v2", "concat");
  INFO(which);
  layers::Model dense = build(which);
  Rng rng(11);
  randomize_batchnorms(dense.graph, rng);
  const morph::ChannelGroups groups(dense.graph, dense.logits);
  int killed = 0;
  for (int g = 0; g < groups.num_groups(); ++g) {
    if (groups.group(g).batchnorms.empty() || rng.uniform() > 0.35) continue;
    kill_group(dense.graph, groups, g);
    ++killed;
  }
  REQUIRE(killed > 0);
  const auto reg = morph::make_regularizer(dense.graph, dense.logits, {});  // gamma, flops
  const morph::ChannelSelection keep = morph::selection_from_regularizer(*reg);
  CHECK(keep.alive_count() == groups.num_groups() - killed);

  morph::Reshaped slim = morph::reshape_model(dense, keep);
  CHECK(slim.revived.empty());
  CHECK(state_names(slim.model.graph) == state_names(dense.graph));
  REQUIRE(slim.model.graph.nodes().size() == dense.graph.nodes().size());
  for (size_t n = 0; n < dense.graph.nodes().size(); ++n)
    CHECK(slim.model.graph.node(n).op->kind() == dense.graph.node(n).op->kind());

  const Tensor images = random_images(dense, 2, rng);
  const Tensor want = eval_logits(dense, images);
  CHECK(max_rel_diff(eval_logits(slim.model, images), want) < 1e-5);

  // Parameters removed: conv / linear weights and biases as the size cost counts them, plus two
  // per batch-norm channel and one logit per gate channel.
  morph::CostOptions size;
  size.target = morph::CostTarget::model_size;
  size.count_bias = true;
  const morph::CostModel size_model(groups, size);
  const double removed = size_model.full_cost() - size_model.cost(keep.alive_groups()) +
                         2.0 * dead_channels(groups, keep, OpKind::batchnorm2d) +
                         dead_channels(groups, keep, OpKind::gate);
  CHECK(static_cast<double>(dense.graph.num_parameters() - slim.model.graph.num_parameters()) == removed);
  check_costs_agree(dense, slim.model, keep);
  CHECK(morph::make_regularizer(slim.model.graph, slim.model.logits, {})->cost() == Approx(reg->cost()));
}

TEST_CASE("reshape: hand-counted slices of one ResNet-20 block", "[morph][reshape]") {
  layers::Model dense = build("resnet20_A");
  const Tensor& gamma = param_of(dense.graph, "layer1.0.bn1.weight");
  for (int c = 0; c < 5; ++c) set_at(gamma, c, 0);
  const auto reg = morph::make_regularizer(dense.graph, dense.logits, {});
  const layers::Model slim = morph::reshape(dense, morph::selection_from_regularizer(*reg));
  // conv1's rows, bn1's channels, conv2's input columns: 5 x 16 x 9 x 2 + 5 x 2.
  CHECK(dense.graph.num_parameters() - slim.graph.num_parameters() == 1450);
  CHECK(param_of(slim.graph, "layer1.0.conv1.weight").shape() == Shape{11, 16, 3, 3});
  CHECK(param_of(slim.graph, "layer1.0.bn1.running_var").shape() == Shape{11});
  CHECK(param_of(slim.graph, "layer1.0.conv2.weight").shape() == Shape{16, 11, 3, 3});
  // Kept channels keep their weights: slim channel 0 is dense channel 5.
  const Tensor& w = param_of(dense.graph, "layer1.0.conv2.weight");
  const Tensor& v = param_of(slim.graph, "layer1.0.conv2.weight");
  CHECK(v.at({3, 0, 1, 2}) == w.at({3, 5, 1, 2}));
  CHECK(param_of(slim.graph, "layer1.0.bn1.weight").at({0}) == gamma.at({5}));
}

TEST_CASE("reshape: option-A shortcuts keep the zero channels on their sides", "[morph][reshape]") {
  layers::Model dense = build("resnet20_A");
  Rng rng(5);
  randomize_batchnorms(dense.graph, rng);
  const morph::ChannelGroups groups(dense.graph, dense.logits);
  // Stage 2's channels: 8 zero-padded ones, the 16 of stage 1, 8 zero-padded ones.
  const ValueId stage2 = dense.graph.at("layer2.0.bn2");
  for (int c : {1, 2, 8 + 3, 30}) kill_group(dense.graph, groups, groups.group_of(stage2, c));
  const auto reg = morph::make_regularizer(dense.graph, dense.logits, {});
  const morph::ChannelSelection keep = morph::selection_from_regularizer(*reg);
  CHECK(keep.alive_count() == groups.num_groups() - 4);
  layers::Model slim = morph::reshape(dense, keep);

  auto pad = [&](const std::string& name) {
    return dynamic_cast<const ChannelPadOp&>(*slim.graph.node(slim.graph.find_node(name)).op).desc();
  };
  CHECK(pad("layer2.0.shortcut").pad_before == 6);
  CHECK(pad("layer2.0.shortcut").pad_after == 7);
  CHECK(pad("layer3.0.shortcut").pad_before == 16);
  CHECK(pad("layer3.0.shortcut").pad_after == 16);
  CHECK(param_of(slim.graph, "layer1.2.bn2.weight").shape() == Shape{15});
  CHECK(param_of(slim.graph, "layer2.2.bn2.weight").shape() == Shape{28});
  CHECK(param_of(slim.graph, "layer3.0.conv1.weight").shape() == Shape{64, 28, 3, 3});
  CHECK(param_of(slim.graph, "fc.weight").shape() == Shape{10, 60});
  const Tensor images = random_images(dense, 2, rng);
  CHECK(max_rel_diff(eval_logits(slim, images), eval_logits(dense, images)) < 1e-5);
  check_costs_agree(dense, slim, keep);
}

TEST_CASE("reshape: a layer that loses every channel keeps one", "[morph][reshape]") {
  layers::Model dense = build("resnet20_B");
  Rng rng(3);
  randomize_batchnorms(dense.graph, rng);
  const morph::ChannelGroups groups(dense.graph, dense.logits);
  const ValueId conv = dense.graph.at("layer2.1.conv1");
  for (int c = 0; c < 32; ++c) kill_group(dense.graph, groups, groups.group_of(conv, c));
  const auto reg = morph::make_regularizer(dense.graph, dense.logits, {});
  morph::ChannelSelection keep = morph::selection_from_regularizer(*reg);

  morph::Reshaped slim = morph::reshape_model(dense, keep);
  REQUIRE(slim.revived.size() == 1);
  CHECK_THAT(slim.revived[0], Contains("layer2.1.conv1"));
  CHECK(slim.selection.alive(groups.group_of(conv, 0)));  // equal scores: the first
  CHECK(param_of(slim.model.graph, "layer2.1.conv1.weight").shape() == Shape{1, 32, 3, 3});
  CHECK(param_of(slim.model.graph, "layer2.1.conv2.weight").shape() == Shape{32, 1, 3, 3});
  const Tensor images = random_images(dense, 2, rng);
  CHECK(max_rel_diff(eval_logits(slim.model, images), eval_logits(dense, images)) < 1e-5);

  // With scores, the best one survives.
  keep.score[groups.group_of(conv, 7)] = 1;
  slim = morph::reshape_model(dense, keep);
  CHECK(param_of(slim.model.graph, "layer2.1.bn1.running_mean").at({0}) ==
        param_of(dense.graph, "layer2.1.bn1.running_mean").at({7}));
}

TEST_CASE("reshape: gates are sliced and dead gates remove their channels", "[morph][reshape]") {
  layers::Model dense = make_concat_model();
  Rng rng(2);
  randomize_batchnorms(dense.graph, rng);
  // Close gates of a, c and the residual pair b + s (both gates of the tied channel).
  const std::vector<std::pair<std::string, int>> closed = {
      {"a.gate", 1}, {"a.gate", 4}, {"c.gate", 1}, {"b.gate", 2}, {"s.gate", 2}};
  for (const auto& [gate, c] : closed) set_at(param_of(dense.graph, gate + ".logits"), c, -1.0);
  morph::RegularizerOptions o;
  o.method = morph::Method::logistic_sigmoid;
  const auto reg = morph::make_regularizer(dense.graph, dense.logits, o);
  const morph::ChannelSelection keep = morph::selection_from_regularizer(*reg);
  CHECK(keep.alive_count() == keep.num_groups() - 4);
  layers::Model slim = morph::reshape(dense, keep);
  CHECK(param_of(slim.graph, "a.gate.logits").shape() == Shape{4});
  CHECK(param_of(slim.graph, "b.gate.logits").shape() == Shape{5});
  CHECK(param_of(slim.graph, "d.weight").shape() == Shape{8, 9, 3, 3});  // concat of 5 + 4
  const Node& e = slim.graph.node(slim.graph.find_node("e"));
  CHECK(dynamic_cast<const Conv2dOp&>(*e.op).desc().groups == 8);
  const Tensor images = random_images(dense, 3, rng);
  CHECK(max_rel_diff(eval_logits(slim, images), eval_logits(dense, images)) < 1e-5);
  check_costs_agree(dense, slim, keep);
}

TEST_CASE("reshape: selections from alive vectors and per-layer counts", "[morph][reshape]") {
  layers::Model resnet = build("resnet20_B");
  const morph::ChannelGroups groups(resnet.graph, resnet.logits);
  set_at(param_of(resnet.graph, "layer3.1.bn1.weight"), 9, 0);
  const auto reg = morph::make_regularizer(resnet.graph, resnet.logits, {});
  CHECK(morph::selection_from_vectors(groups, reg->alive_vectors()).copies ==
        morph::selection_from_regularizer(*reg).copies);

  // Counts keep the first k channels; tied layers must agree.
  const morph::ChannelSelection tied = morph::selection_from_counts(groups, {{"conv1", 10}, {"layer1.1.conv2", 10}});
  CHECK(tied.alive_count() == groups.num_groups() - 6);
  CHECK_THROWS_WITH(morph::selection_from_counts(groups, {{"conv1", 10}, {"layer1.0.conv2", 12}}),
                    Contains("conv1[10]") && Contains("layer1.0.conv2[10]"));
  CHECK_THROWS_WITH(morph::selection_from_counts(groups, {{"conv9", 1}}), Contains("no layer 'conv9'"));
  CHECK_THROWS_AS(morph::selection_from_vectors(groups, {{"fc", std::vector<bool>(10, false)}}), ConfigError);

  const layers::Model vgg = build("vgg_small");
  const morph::ChannelGroups vgg_groups(vgg.graph, vgg.logits);
  const layers::Model slim =
      morph::reshape(vgg, morph::selection_from_counts(vgg_groups, {{"features.0", 20}, {"features.17", 50}}));
  CHECK(param_of(slim.graph, "features.0.weight").shape() == Shape{20, 3, 3, 3});
  CHECK(param_of(slim.graph, "features.3.weight").shape() == Shape{32, 20, 3, 3});
  // The last conv feeds the classifier through a 4 x 4 map: 50 channels, 800 columns.
  CHECK(param_of(slim.graph, "classifier.0.weight").shape() == Shape{256, 800});
}
