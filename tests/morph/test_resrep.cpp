// ResRep: compactors in the zoo and in the channel groups, the penalty gradient, the mask
// schedule, and the merge (the slim model computes what the compactor model computes).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "layers/summary.h"
#include "morph/masked_constants.h"
#include "morph/resrep.h"
#include "morph/resrep_merge.h"
#include "tests/morph/reshape_test_util.h"

using namespace mt;
using namespace mt::test;
using morph::ChannelGroups;

namespace {

layers::Model build(const std::string& which, bool compactors, DType dtype = DType::f32, double width = 1.0) {
  layers::ModelOptions o;
  o.compactors = compactors;
  o.dtype = dtype;
  o.width_multiplier = width;
  o.image_size = which == "mobilenet_v2" || which == "vgg_small" ? 32 : 16;
  if (which.rfind("resnet20_", 0) == 0) {
    o.shortcut = which.substr(9);
    return layers::build_model("resnet20", o);
  }
  return layers::build_model(which, o);
}

std::vector<const Node*> compactor_nodes(const Graph& g) {
  std::vector<const Node*> out;
  for (const Node& n : g.nodes())
    if (n.op->kind() == OpKind::compactor) out.push_back(&n);
  return out;
}

// Identity plus noise in every compactor: the merge must fold a full matrix, not a diagonal.
void randomize_compactors(Graph& g, Rng& rng, double noise = 0.3) {
  for (const Node* n : compactor_nodes(g)) {
    const Tensor& q = g.value(n->inputs[1]).data;
    const int64_t c = q.dim(0);
    for (int64_t i = 0; i < c; ++i)
      for (int64_t j = 0; j < c; ++j) set_at(q, i * c + j, (i == j ? 1.0 : 0.0) + rng.uniform(-noise, noise));
  }
}

// Every analysed value keeps at least one channel under the masks.
bool no_value_emptied(const ChannelGroups& groups, const std::vector<bool>& masked) {
  for (int node : groups.nodes())
    for (ValueId v : groups.graph().node(node).outputs) {
      const std::vector<int>& chans = groups.channel_groups(v);
      if (chans.empty()) continue;
      bool any = false;
      for (int g : chans) any = any || g == ChannelGroups::kNone || !masked[g];
      if (!any) return false;
    }
  return true;
}

}  // namespace

TEST_CASE("compactors: an identity 1x1 conv after every conv-BN with groups 1", "[morph][resrep]") {
  const layers::Model a = build("resnet20_A", true), b = build("resnet20_B", true);
  CHECK(compactor_nodes(a.graph).size() == 19);
  CHECK(compactor_nodes(b.graph).size() == 21);  // + two downsample convs
  const Node& n = a.graph.node(a.graph.find_node("layer1.0.conv1.compactor"));
  CHECK(n.op->kind() == OpKind::compactor);
  CHECK(a.graph.node(a.graph.producer(n.inputs[0])).name == "layer1.0.bn1");
  CHECK(a.graph.value(n.inputs[1]).name == "layer1.0.conv1.compactor.weight");
  const Tensor& q = param_of(a.graph, "layer3.2.conv2.compactor.weight");
  REQUIRE(q.shape() == Shape{64, 64, 1, 1});
  double off = 0, diag = 0;
  for (int64_t i = 0; i < 64; ++i)
    for (int64_t j = 0; j < 64; ++j) (i == j ? diag : off) += std::abs(get_at(q, i * 64 + j));
  CHECK(diag == 64);
  CHECK(off == 0);
  CHECK(b.graph.find_node("layer2.0.downsample.0.compactor") >= 0);

  // MobileNet-v2: every conv with groups 1 has one, no depthwise conv has one.
  const layers::Model m = build("mobilenet_v2", true);
  int convs = 0;
  for (const Node& c : m.graph.nodes()) {
    if (c.op->kind() != OpKind::conv2d) continue;
    const bool has = m.graph.find_node(c.name + ".compactor") >= 0;
    const int64_t in_per_group = m.graph.value(c.inputs[1]).shape[1];
    CHECK(has == (in_per_group != 1));  // depthwise: one input channel per filter
    convs += has;
  }
  CHECK(convs == static_cast<int>(compactor_nodes(m.graph).size()));
  CHECK(convs == 35);  // stem, 16 expansions, 17 projections, the 1280 conv

  // Identity compactors change nothing: same seed, same weights, same logits.
  layers::Model plain = build("resnet20_A", false), with = build("resnet20_A", true);
  Rng r1(3), r2(3), r3(4);
  randomize_batchnorms(plain.graph, r1);
  randomize_batchnorms(with.graph, r2);
  const Tensor x = random_images(plain, 2, r3);
  CHECK(max_rel_diff(eval_logits(with, x), eval_logits(plain, x)) < 1e-6);

  layers::ModelOptions both;
  both.gating = both.compactors = true;
  CHECK_THROWS_AS(layers::build_model("resnet20", both), ConfigError);
}

TEST_CASE("compactors: channel groups see through them, costs leave them out", "[morph][resrep]") {
  const std::string which = GENERATE(as<std::string>{}, "resnet20_A", "resnet20_B", "mobilenet_v2");
  INFO(which);
  const layers::Model plain = build(which, false), with = build(which, true);
  const ChannelGroups gp(plain.graph, plain.logits), gw(with.graph, with.logits);
  REQUIRE(gw.num_groups() == gp.num_groups());
  for (const Node& n : plain.graph.nodes())
    if (n.op->kind() == OpKind::conv2d || n.op->kind() == OpKind::batchnorm2d)
      CHECK(gw.channel_groups(with.graph.at(n.name)) == gp.channel_groups(plain.graph.at(n.name)));
  int rows = 0;
  for (const Node* n : compactor_nodes(with.graph)) {
    CHECK(gw.channel_groups(n->outputs[0]) == gw.channel_groups(n->inputs[0]));
    rows += static_cast<int>(with.graph.value(n->inputs[1]).shape[0]);
  }
  int listed = 0;
  for (int g = 0; g < gw.num_groups(); ++g) listed += static_cast<int>(gw.group(g).compactors.size());
  CHECK(listed == rows);
  for (auto target : {morph::CostTarget::flops, morph::CostTarget::model_size, morph::CostTarget::latency}) {
    morph::CostOptions o;
    o.target = target;
    CHECK(morph::CostModel(gw, o).full_cost() == morph::CostModel(gp, o).full_cost());
  }
  // Every group of these models is prunable: each conv in it has its compactor.
  const auto prunable = morph::resrep_prunable(gw, morph::find_compactors(gw));
  CHECK(std::count(prunable.begin(), prunable.end(), true) == gw.num_groups());
  if (which == "resnet20_A") {
    // The stem's channel 0 runs through all three stages: conv1, 3 conv2 of each stage.
    const int g = gw.group_of(with.graph.at("conv1.compactor"), 0);
    CHECK(gw.group(g).compactors.size() == 10);
    // 16x16 images: the convs cost a quarter of their 32x32 FLOPs, the classifier 2 x 64 x 10.
    CHECK(morph::CostModel(gw, {}).full_cost() == (81102080.0 - 1280) / 4 + 1280);
  }
}

TEST_CASE("compactors: a hidden linear layer's group is not ResRep-prunable", "[morph][resrep]") {
  const layers::Model m = build("vgg_small", true);
  const ChannelGroups g(m.graph, m.logits);
  const auto prunable = morph::resrep_prunable(g, morph::find_compactors(g));
  int unprunable = 0;
  for (int i = 0; i < g.num_groups(); ++i) {
    bool linear = false;
    for (const auto& r : g.group(i).convs) linear = linear || m.graph.node(r.node).op->kind() == OpKind::linear;
    CHECK(prunable[i] == !linear);
    unprunable += !prunable[i];
  }
  CHECK(unprunable == 256);
  // Neither ResRep nor the merge lets such a group be masked.
  std::vector<bool> masked(g.num_groups(), false);
  masked[static_cast<size_t>(std::find(prunable.begin(), prunable.end(), false) - prunable.begin())] = true;
  morph::ResRep rr(m.graph, m.logits, {});
  CHECK_THROWS_AS(rr.set_masked(masked), ShapeError);
  CHECK_THROWS_AS(morph::merge_compactors(m, masked), ShapeError);
}

TEST_CASE("resrep penalty: lambda Q_i / |Q_i| on every row (its own lambda on masked rows if set), masked rows lose the objective", "[morph][resrep]") {
  layers::Model m = build("resnet20_A", true, DType::f64, 0.25);
  Rng rng(7);
  randomize_compactors(m.graph, rng);
  morph::ResRepOptions o;
  o.lasso_strength = 0.01;
  o.masked_lasso_strength = GENERATE(-1.0, 0.05);  // the paper's single lambda, or its own
  INFO("masked_lasso_strength " << o.masked_lasso_strength);
  const double masked_lambda = o.masked_lasso_strength >= 0 ? o.masked_lasso_strength : o.lasso_strength;
  morph::ResRep rr(m.graph, m.logits, o);
  std::vector<bool> masked(rr.groups().num_groups(), false);
  masked[0] = masked[5] = masked[17] = true;
  rr.set_masked(masked);
  // One zero row of an unmasked group: the subgradient 0 there.
  const morph::CompactorInfo& first = rr.compactors().front();
  const Tensor& q0 = m.graph.value(first.weight).data;
  const int64_t c0 = q0.dim(0);
  int zero_row = -1;
  for (int64_t i = 0; i < c0 && zero_row < 0; ++i)
    if (!masked[first.row_group[i]]) zero_row = static_cast<int>(i);
  for (int64_t j = 0; j < c0; ++j) set_at(q0, zero_row * c0 + j, 0);

  std::map<ValueId, Tensor> grads, before;
  for (const auto& c : rr.compactors()) {
    Tensor g = Tensor::zeros(m.graph.value(c.weight).shape, DType::f64);
    for (int64_t i = 0; i < g.numel(); ++i) set_at(g, i, rng.normal());
    before[c.weight] = g.clone();
    grads[c.weight] = g;
  }
  const double term = rr.add_penalty_gradient([&](ValueId p) { return &grads.at(p); });
  double expected_term = 0, worst = 0;
  int masked_rows = 0;
  for (const auto& c : rr.compactors()) {
    const Tensor& q = m.graph.value(c.weight).data;
    const int64_t n = q.dim(0);
    for (int64_t i = 0; i < n; ++i) {
      double norm = 0;
      for (int64_t j = 0; j < n; ++j) norm += get_at(q, i * n + j) * get_at(q, i * n + j);
      norm = std::sqrt(norm);
      const bool mask = masked[c.row_group[i]];
      const double lambda = mask ? masked_lambda : o.lasso_strength;
      expected_term += lambda * norm;
      masked_rows += mask;
      for (int64_t j = 0; j < n; ++j) {
        const double want = (mask ? 0.0 : get_at(before[c.weight], i * n + j)) +
                            (norm > 0 ? lambda * get_at(q, i * n + j) / norm : 0.0);
        worst = std::max(worst, std::abs(get_at(grads[c.weight], i * n + j) - want));
      }
    }
  }
  CHECK(masked_rows >= 3);
  CHECK(worst < 1e-14);
  CHECK(term == Approx(expected_term).epsilon(1e-12));
  CHECK(get_at(grads[first.weight], zero_row * c0 + 1) == get_at(before[first.weight], zero_row * c0 + 1));

  // The penalty is the gradient of the term it returns: central differences.
  rr.set_masked(std::vector<bool>(masked.size(), false));
  for (auto& [p, g] : grads) g.fill(0);
  rr.add_penalty_gradient([&](ValueId p) { return &grads.at(p); });
  auto term_only = [&] { return rr.add_penalty_gradient([](ValueId) { return nullptr; }); };
  const auto& c = rr.compactors()[3];
  const Tensor& q = m.graph.value(c.weight).data;
  for (int64_t k : {int64_t{0}, int64_t{5}, q.numel() - 1}) {
    const double x = get_at(q, k), eps = 1e-6;
    set_at(q, k, x + eps);
    const double up = term_only();
    set_at(q, k, x - eps);
    const double down = term_only();
    set_at(q, k, x);
    CHECK((up - down) / (2 * eps) == Approx(get_at(grads[c.weight], k)).epsilon(1e-6));
  }
}

TEST_CASE("resrep masks: `step` more every `interval` after the warm-up, until the target", "[morph][resrep]") {
  layers::Model m = build("resnet20_A", true);
  Rng rng(9);
  randomize_compactors(m.graph, rng);
  morph::ResRepOptions o;
  o.warmup_steps = 10;
  o.mask_interval = 5;
  o.mask_step = 4;
  o.target_fraction = 0.9;
  o.ranking = morph::ResRepRanking::norm;
  morph::ResRep rr(m.graph, m.logits, o);
  const std::vector<double> norms = rr.group_norms();

  std::vector<int64_t> updates;
  bool first = true;
  double cost_before_last = 0;
  for (int64_t step = 1; step <= 2000; ++step) {
    if (!rr.mask_due(step)) continue;
    const double before = rr.cost();
    const std::vector<int> chosen = rr.mask_more();
    if (chosen.empty()) break;
    updates.push_back(step);
    cost_before_last = before;
    if (first) {
      // The four smallest norms of the whole network.
      std::vector<int> order(norms.size());
      for (size_t g = 0; g < order.size(); ++g) order[g] = static_cast<int>(g);
      std::sort(order.begin(), order.end(), [&](int a, int b) { return norms[a] < norms[b]; });
      CHECK(std::set<int>(chosen.begin(), chosen.end()) == std::set<int>(order.begin(), order.begin() + 4));
      first = false;
    }
    CHECK((chosen.size() == 4 || rr.target_reached()));
    CHECK(rr.num_masked() == static_cast<int>(4 * (updates.size() - 1) + chosen.size()));
  }
  REQUIRE(updates.size() >= 2);
  for (size_t i = 0; i < updates.size(); ++i) CHECK(updates[i] == 15 + 5 * static_cast<int64_t>(i));
  CHECK(rr.target_reached());
  CHECK(cost_before_last > 0.9 * rr.full_cost());
  CHECK(rr.mask_more().empty());
  CHECK_FALSE(rr.mask_due(10));
  CHECK_FALSE(rr.mask_due(16));
  // The structure export counts unmasked channels per conv.
  const auto s = rr.learned_structure();
  CHECK(s.size() == 19);
  CHECK_FALSE(s.contains("conv1.compactor"));
}

TEST_CASE("resrep masks: cost-aware ranking; never a value without channels", "[morph][resrep]") {
  layers::Model m = build("resnet20_B", true);
  Rng rng(10);
  randomize_compactors(m.graph, rng);
  morph::ResRepOptions o;
  o.mask_step = 1;
  o.target_fraction = 1e-3;  // below one channel per layer: unreachable
  morph::ResRep rr(m.graph, m.logits, o);
  const std::vector<double> norms = rr.group_norms(), savings = rr.group_savings();
  int best = -1;
  for (int g = 0; g < rr.groups().num_groups(); ++g)
    if (best < 0 || norms[g] / savings[g] < norms[best] / savings[best]) best = g;
  const std::vector<int> chosen = rr.mask_more();
  REQUIRE(chosen.size() == 1);
  CHECK(chosen[0] == best);
  // The saving the ranking used is what the cost model says removing that group saves.
  CHECK(rr.cost() == Approx(rr.full_cost() - savings[best]).epsilon(1e-12));

  morph::ResRepOptions all = o;
  all.mask_step = 40;
  morph::ResRep greedy(m.graph, m.logits, all);
  while (!greedy.mask_more().empty()) {
  }
  CHECK_FALSE(greedy.target_reached());
  CHECK(no_value_emptied(greedy.groups(), greedy.masked()));
  // Stopped because every further group would empty some value.
  for (int g = 0; g < greedy.groups().num_groups(); ++g)
    if (!greedy.masked()[g]) {
      std::vector<bool> more = greedy.masked();
      more[g] = true;
      CHECK_FALSE(no_value_emptied(greedy.groups(), more));
    }
  const morph::MergeResult merged = morph::merge_compactors(m, greedy.masked());
  CHECK(merged.revived.empty());
  CHECK(merged.inexact.empty());
}

TEST_CASE("resrep merge: the slim model computes what the compactor model computes", "[morph][resrep]") {
  const std::string which = GENERATE(as<std::string>{}, "resnet20_A", "resnet20_B", "mobilenet_v2");
  INFO(which);
  layers::Model dense = build(which, true);
  Rng rng(12);
  randomize_batchnorms(dense.graph, rng);
  randomize_compactors(dense.graph, rng);
  morph::ResRep rr(dense.graph, dense.logits, {});
  std::vector<bool> masked(rr.groups().num_groups(), false);
  for (size_t g = 0; g < masked.size(); ++g) masked[g] = rng.uniform() < 0.3;
  rr.set_masked(masked);
  rr.zero_masked_rows(dense.graph);
  REQUIRE(no_value_emptied(rr.groups(), masked));

  const morph::MergeResult merged = morph::merge_compactors(dense, masked);
  CHECK(merged.revived.empty());
  CHECK(merged.inexact.empty());
  layers::Model slim = merged.model;
  CHECK(compactor_nodes(slim.graph).empty());
  // Its FLOPs are what ResRep's cost model predicted for the masks.
  CHECK(2.0 * static_cast<double>(layers::summarize(slim.graph).total_macs) == Approx(rr.cost()).epsilon(1e-12));
  CHECK(rr.cost() < 0.9 * rr.full_cost());

  const Tensor x = random_images(dense, 3, rng);
  const Tensor want = eval_logits(dense, x), got = eval_logits(slim, x);
  CHECK(max_rel_diff(got, want) < 1e-4);

  if (which == "mobilenet_v2") {
    // The constants a depthwise batch norm makes of masked channels were needed (and folded).
    const auto constants = morph::masked_constants(rr.groups(), masked);
    int nonzero = 0;
    for (const auto& v : constants)
      for (double k : v) nonzero += std::isfinite(k) && k != 0;
    CHECK(nonzero > 0);
  }
}

TEST_CASE("resrep merge: strip_compactors gives the plain zoo model back", "[morph][resrep]") {
  const layers::Model plain = build("resnet20_B", false), with = build("resnet20_B", true);
  const layers::Model stripped = morph::strip_compactors(with);
  const auto a = stripped.graph.state_dict(), b = plain.graph.state_dict();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].first == b[i].first);
    CHECK(max_rel_diff(a[i].second, b[i].second) == 0);
  }
  CHECK(stripped.graph.nodes().size() == plain.graph.nodes().size());
  CHECK(stripped.graph.value(stripped.logits).name == "fc");

  // Masked groups must be prunable, and the mask must fit the model.
  CHECK_THROWS_AS(morph::merge_compactors(with, {true}), ShapeError);
}

TEST_CASE("resrep merge: identity batch norms take new statistics, the model stays", "[morph][resrep]") {
  layers::Model dense = build("resnet20_B", true);
  Rng rng(14);
  randomize_batchnorms(dense.graph, rng);
  randomize_compactors(dense.graph, rng);
  morph::ResRep rr(dense.graph, dense.logits, {});
  std::vector<bool> masked(rr.groups().num_groups(), false);
  for (size_t g = 0; g < masked.size(); ++g) masked[g] = rng.uniform() < 0.2;
  morph::MergeResult merged = morph::merge_compactors(dense, masked);
  CHECK(merged.identity_batchnorms.size() == 21);
  const Tensor x = random_images(dense, 2, rng);
  const Tensor before = eval_logits(merged.model, x);
  // What recalibration would do: new running statistics.
  for (const std::string& name : merged.identity_batchnorms) {
    for (const char* stat : {".running_mean", ".running_var"}) {
      const Tensor& t = param_of(merged.model.graph, name + stat);
      for (int64_t i = 0; i < t.numel(); ++i) set_at(t, i, rng.uniform(0.5, 2.0));
    }
  }
  CHECK(max_rel_diff(eval_logits(merged.model, x), before) > 1e-2);
  morph::rebase_identity_batchnorms(merged.model.graph, merged.identity_batchnorms);
  CHECK(max_rel_diff(eval_logits(merged.model, x), before) < 1e-4);
  CHECK_THROWS_AS(morph::rebase_identity_batchnorms(merged.model.graph, {"fc"}), ShapeError);
}
