// Width expansion (scale a learned structure to a cost target, optionally rounding widths) and
// structure files (rebuild a pruned model from the dense config and one JSON file).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "layers/summary.h"
#include "morph/network_regularizer.h"
#include "morph/reshape.h"
#include "morph/structure_file.h"
#include "morph/width_expansion.h"
#include "tests/morph/reshape_test_util.h"
#include "tests/temp_dir.h"

using namespace mt;
using namespace mt::test;
using Catch::Contains;

namespace {

layers::Model resnet20(const std::string& shortcut) {
  layers::ModelOptions o;
  o.image_size = 16;
  o.shortcut = shortcut;
  return layers::build_model("resnet20", o);
}

// A learned-looking structure: about `fraction` of the groups dead, scored by a fake
// regularization value.
morph::ChannelSelection random_selection(const morph::ChannelGroups& groups, double fraction, uint64_t seed) {
  Rng rng(seed);
  morph::ChannelSelection s = morph::keep_all(groups);
  for (int g = 0; g < groups.num_groups(); ++g) {
    s.score.push_back(rng.uniform());
    if (rng.uniform() < fraction) s.copies[g] = 0;
  }
  return s;
}

const morph::WidthBlock& block(const morph::WidthExpander& x, const std::string& name) {
  for (const morph::WidthBlock& b : x.blocks())
    if (b.name == name) return b;
  FAIL("no block " << name);
  return x.blocks().front();
}

int64_t out_channels(const Graph& g, const std::string& layer) { return param_of(g, layer + ".weight").dim(0); }

double flops(const layers::Model& m) { return 2.0 * static_cast<double>(layers::summarize(m.graph).total_macs); }

}  // namespace

TEST_CASE("width blocks: the channels that share every layer", "[morph][reshape]") {
  const layers::Model a = resnet20("A"), b = resnet20("B");
  const morph::WidthExpander xa(a), xb(b);
  // 9 conv1 blocks; B: 3 stage trunks; A: stage 1's trunk and the zero channels of stages 2, 3.
  CHECK(xa.blocks().size() == 12);
  CHECK(xb.blocks().size() == 12);
  CHECK(block(xa, "conv1").groups.size() == 16);
  CHECK(block(xa, "conv1").layers.size() == 1 + 9);  // the stem and every block's conv2
  CHECK(block(xa, "layer2.0.conv2").groups.size() == 16);
  CHECK(block(xa, "layer3.0.conv2").groups.size() == 32);
  CHECK(block(xb, "layer2.0.conv2").groups.size() == 32);
  CHECK(block(xb, "layer2.0.conv2").layers.size() == 4);  // 3 conv2 and the 1x1 shortcut
  CHECK(block(xb, "layer3.2.conv1").groups.size() == 64);
}

TEST_CASE("width expansion: scaling a structure's blocks", "[morph][reshape]") {
  layers::Model dense = resnet20("A");
  const morph::WidthExpander x(dense);
  const morph::ChannelSelection learned = random_selection(x.groups(), 0.5, 1);
  const std::vector<int64_t> alive = x.block_widths(learned);
  CHECK(x.scale(learned, 1.0).copies == learned.copies);

  const morph::ChannelSelection half = x.scale(learned, 0.5);
  const std::vector<int64_t> halved = x.block_widths(half);
  for (size_t b = 0; b < alive.size(); ++b) {
    INFO(x.blocks()[b].name);
    CHECK(halved[b] == std::max<int64_t>(1, std::llround(0.5 * static_cast<double>(alive[b]))));
  }
  // Shrinking keeps the best-scored alive channels.
  for (const morph::WidthBlock& b : x.blocks()) {
    double worst_kept = 2, best_dropped = -1;
    for (int g : b.groups) {
      if (!learned.alive(g)) continue;
      if (half.alive(g)) worst_kept = std::min(worst_kept, learned.score[g]);
      else best_dropped = std::max(best_dropped, learned.score[g]);
    }
    CHECK(worst_kept > best_dropped);
  }

  // Past the dense width: every dense channel once, then new copies; the copy-mode model keeps
  // the dense weights of the original channels (each followed by its copy).
  const morph::ChannelSelection wide = x.scale(morph::keep_all(x.groups()), 2.0);
  morph::Reshaped grown = morph::reshape_model(dense, wide);
  CHECK(out_channels(grown.model.graph, "conv1") == 32);
  CHECK(out_channels(grown.model.graph, "layer3.1.conv1") == 128);
  CHECK(param_of(grown.model.graph, "fc.weight").shape() == Shape{10, 128});
  const Tensor& w = param_of(dense.graph, "layer1.0.conv1.weight");
  const Tensor& v = param_of(grown.model.graph, "layer1.0.conv1.weight");
  CHECK(v.at({2 * 3, 2 * 5, 1, 1}) == w.at({3, 5, 1, 1}));
  CHECK(v.at({2 * 3 + 1, 2 * 5, 1, 1}) != w.at({3, 5, 1, 1}));
  const morph::CostModel costs(x.groups(), {});
  CHECK(flops(grown.model) == Approx(morph::structure_cost(costs, wide)).epsilon(1e-12));
  CHECK(flops(grown.model) == Approx(4 * flops(dense)).epsilon(0.01));
  Rng rng(1);
  const Tensor y = eval_logits(grown.model, random_images(dense, 2, rng));
  CHECK(std::isfinite(y.at({1, 9})));

  // Without growth a block stops at its dense width.
  const morph::WidthExpander capped(dense, {.multiple = 1, .grow = false});
  const morph::ChannelSelection tripled = capped.scale(learned, 3.0);
  CHECK(*std::max_element(tripled.copies.begin(), tripled.copies.end()) == 1);
  CHECK(tripled.alive_count() > learned.alive_count());
  CHECK(capped.scale(learned, 100.0).copies == morph::keep_all(x.groups()).copies);
}

TEST_CASE("reshape from scratch: fresh parameters as the builders make them", "[morph][reshape]") {
  layers::ModelOptions o;
  o.gating = true;
  o.gate_init_logit = 1.5;
  layers::Model dense = layers::build_model("mobilenet_v2", o);
  Rng rng(4);
  randomize_batchnorms(dense.graph, rng);
  const morph::WidthExpander x(dense);
  const morph::ChannelSelection wide = x.scale(random_selection(x.groups(), 0.3, 5), 1.5);
  const morph::ReshapeOptions fresh{.init = morph::ReshapeInit::fresh, .seed = 9, .gate_init_logit = 1.5};
  layers::Model grown = morph::reshape_model(dense, wide, fresh).model;

  CHECK(flops(grown) == Approx(morph::structure_cost(morph::CostModel(x.groups(), {}), wide)).epsilon(1e-12));
  // The depthwise conv of block 2 follows its expansion conv, groups and all.
  const int64_t hidden = out_channels(grown.graph, "features.2.conv.0.0");
  CHECK(param_of(grown.graph, "features.2.conv.1.0.weight").shape() == Shape{hidden, 1, 3, 3});
  const Tensor& gamma = param_of(grown.graph, "features.2.conv.1.1.weight");
  const Tensor& var = param_of(grown.graph, "features.2.conv.1.1.running_var");
  const Tensor& logits = param_of(grown.graph, "features.2.conv.1.0.gate.logits");
  for (int64_t c = 0; c < hidden; ++c) {
    CHECK(get_at(gamma, c) == 1);
    CHECK(get_at(var, c) == 1);
    CHECK(get_at(logits, c) == 1.5);
  }
  // Kaiming normal, fan out: std sqrt(2 / (out x 9)) for a 3x3 conv.
  const Tensor& w = param_of(grown.graph, "features.3.conv.1.0.weight");
  double sum2 = 0;
  for (int64_t i = 0; i < w.numel(); ++i) sum2 += get_at(w, i) * get_at(w, i);
  CHECK(std::sqrt(sum2 / static_cast<double>(w.numel())) ==
        Approx(std::sqrt(2.0 / static_cast<double>(w.dim(0) * 9))).epsilon(0.15));
  // Reproducible from the seed; runs.
  const layers::Model again = morph::reshape_model(dense, wide, fresh).model;
  CHECK(max_rel_diff(param_of(again.graph, "features.18.0.weight"), param_of(grown.graph, "features.18.0.weight")) == 0);
  const Tensor y = eval_logits(grown, random_images(dense, 2, rng));
  CHECK(std::isfinite(y.at({1, 9})));
}

TEST_CASE("width expansion: rounded widths", "[morph][reshape]") {
  const std::string shortcut = GENERATE(as<std::string>{}, "A", "B");
  INFO("shortcut " << shortcut);
  layers::Model dense = resnet20(shortcut);
  const morph::WidthExpander x(dense, {.multiple = 8, .grow = true});
  const morph::ChannelSelection learned = random_selection(x.groups(), 0.6, 2);
  for (double m : {0.7, 1.0, 1.9}) {
    const layers::Model slim = morph::reshape(dense, x.scale(learned, m));
    for (const Node& n : slim.graph.nodes()) {
      if (n.op->kind() != OpKind::conv2d) continue;
      INFO(n.name << " at " << m);
      CHECK(out_channels(slim.graph, n.name) % 8 == 0);
    }
  }
}

TEST_CASE("width expansion: thin widths stay unrounded", "[morph][reshape]") {
  layers::Model dense = resnet20("A");
  const morph::WidthExpander plain(dense, {.multiple = 1, .grow = true});
  const morph::WidthExpander x(dense, {.multiple = 16, .exact_up_to = 8, .grow = true});
  int thin = 0, rounded = 0;
  for (uint64_t seed : {7, 8, 9}) {
    const morph::ChannelSelection learned = random_selection(x.groups(), 0.3, seed);
    const layers::Model exact = morph::reshape(dense, plain.scale(learned, 0.5));
    const layers::Model slim = morph::reshape(dense, x.scale(learned, 0.5));
    // What the kernels see is a layer's width: thin ones as learned, the rest multiples of 16,
    // also where a layer sums several blocks (option A's trunks of stages 2 and 3).
    for (const Node& n : slim.graph.nodes()) {
      if (n.op->kind() != OpKind::conv2d) continue;
      const int64_t e = out_channels(exact.graph, n.name), r = out_channels(slim.graph, n.name);
      INFO("seed " << seed << ", " << n.name << ": " << e << " -> " << r);
      if (e <= 8) {
        CHECK(r == e);
        ++thin;
      } else {
        CHECK(r % 16 == 0);
        ++rounded;
      }
    }
  }
  CHECK(thin > 0);  // the case exercises both sides
  CHECK(rounded > 0);
}

TEST_CASE("width expansion: a thin stem trunk leaves option A's later trunks on multiples", "[morph][reshape]") {
  layers::Model dense = resnet20("A");
  const morph::WidthExpander x(dense, {.multiple = 16, .exact_up_to = 8, .grow = false});
  // Stage 1's trunk down to 1 channel: stage 2's trunk is that channel plus the 16 that were zero
  // padding in the dense model, so rounding each block alone would make it 17 wide (and stage 3's
  // 49), the widths blocked kernels run worst.
  morph::ChannelSelection s = morph::keep_all(x.groups());
  s.score.assign(static_cast<size_t>(x.groups().num_groups()), 1.0);
  const std::vector<int>& stem = block(x, "conv1").groups;
  for (size_t i = 1; i < stem.size(); ++i) s.copies[stem[i]] = 0;
  const layers::Model slim = morph::reshape(dense, x.scale(s, 1.0));
  CHECK(out_channels(slim.graph, "conv1") == 1);
  CHECK(out_channels(slim.graph, "layer1.2.conv2") == 1);
  CHECK(out_channels(slim.graph, "layer2.0.conv2") == 16);
  CHECK(out_channels(slim.graph, "layer3.2.conv2") == 48);
  CHECK(out_channels(slim.graph, "layer2.1.conv1") == 32);

  // Fitted to a budget, every layer is thin or a multiple, for any learned structure.
  const double full = morph::CostModel(x.groups(), {}).full_cost();
  for (uint64_t seed : {4, 5, 6}) {
    morph::ChannelSelection learned = random_selection(x.groups(), 0.5, seed);
    for (size_t i = 1; i < stem.size(); ++i) learned.copies[stem[i]] = 0;
    const morph::Expansion e = x.fit(learned, 0.3 * full, {});
    CHECK(e.cost <= 0.3 * full);
    const layers::Model fitted = morph::reshape(dense, e.selection);
    for (const Node& n : fitted.graph.nodes()) {
      if (n.op->kind() != OpKind::conv2d) continue;
      const int64_t w = out_channels(fitted.graph, n.name);
      INFO("seed " << seed << ", " << n.name << ": " << w);
      CHECK((w <= 8 || w % 16 == 0));
    }
  }
}

TEST_CASE("width expansion: a multiplier that meets a cost target", "[morph][reshape]") {
  layers::Model dense = resnet20("A");
  const morph::ChannelGroups groups(dense.graph, dense.logits);
  const morph::ChannelSelection learned = random_selection(groups, 0.5, 3);
  const double full = morph::CostModel(groups, {}).full_cost();

  for (double fraction : {0.5, 1.0, 1.6}) {
    const morph::WidthExpander x(dense);
    const morph::Expansion e = x.fit(learned, fraction * full, {});
    INFO("target " << fraction << " of the dense FLOPs; multiplier " << e.multiplier);
    CHECK(std::abs(e.cost / e.target - 1) < 0.01);
    CHECK(flops(morph::reshape(dense, e.selection)) == Approx(e.cost).epsilon(1e-12));
    CHECK(morph::find_multiplier(dense, learned, fraction * full, {}) == e.multiplier);
  }

  // Model size, widths in multiples of 16: as close as the rounding allows without passing the
  // target, i.e. no multiplier on a fine grid lands between the fit and the target.
  morph::CostOptions size;
  size.target = morph::CostTarget::model_size;
  const morph::WidthExpander x16(dense, {.multiple = 16, .grow = true});
  const morph::CostModel size_model(groups, size);
  const double target = 0.7 * size_model.full_cost();
  const morph::Expansion e = x16.fit(learned, target, size);
  for (const int64_t w : x16.block_widths(e.selection)) CHECK(w % 16 == 0);
  for (double m = 0.02; m < 4; m += 0.02) {
    const double c = morph::structure_cost(size_model, x16.scale(learned, m));
    CHECK_FALSE((c > e.cost * (1 + 1e-12) && c <= target));
  }
  CHECK(e.cost <= target);
}

TEST_CASE("width expansion: rounded widths never pass the dense ones and keep the budget", "[morph][reshape]") {
  const std::string shortcut = GENERATE(as<std::string>{}, "A", "B");
  layers::Model dense = resnet20(shortcut);
  const morph::ChannelGroups groups(dense.graph, dense.logits);
  const double full = morph::CostModel(groups, {}).full_cost();
  for (int64_t multiple : {8, 16}) {
    const morph::WidthExpander x(dense, {.multiple = multiple, .exact_up_to = 8, .grow = false});
    const std::vector<int64_t> dense_widths = x.block_widths(morph::keep_all(groups));
    for (uint64_t seed : {1, 2, 3})
      for (double fraction : {0.3, 0.5, 0.7}) {
        INFO("shortcut " << shortcut << ", multiple " << multiple << ", seed " << seed << ", budget " << fraction);
        const morph::ChannelSelection learned = random_selection(groups, 0.5, seed);
        const morph::Expansion e = x.fit(learned, fraction * full, {});
        // A budget is a ceiling: at most the target, and close below it. Within 1.5% of the
        // dense cost, not 1%: at 70% with option A, ResNet-20's stem trunk can only be 8 or 16
        // channels wide, and 16 costs more than the other blocks can give back a step at a time.
        const std::vector<int64_t> widths = x.block_widths(e.selection);
        CHECK(e.cost <= fraction * full);
        CHECK(e.cost >= (fraction - 0.015) * full);
        for (size_t b = 0; b < widths.size(); ++b) {
          INFO("block " << x.blocks()[b].name << ": " << widths[b] << " of " << dense_widths[b]);
          CHECK(widths[b] <= dense_widths[b]);
        }
        const layers::Model slim = morph::reshape(dense, e.selection);
        for (const Node& n : slim.graph.nodes()) {
          if (n.op->kind() != OpKind::conv2d) continue;
          const int64_t w = out_channels(slim.graph, n.name);
          INFO(n.name << ": " << w);
          CHECK(w <= out_channels(dense.graph, n.name));
          CHECK((w <= 8 || w % multiple == 0));  // every layer, the sums of nested blocks included
        }
      }
  }
}

TEST_CASE("structure files rebuild the model from the dense config", "[morph][reshape]") {
  layers::Model dense = resnet20("A");
  const morph::WidthExpander x(dense);
  const morph::ChannelSelection learned = random_selection(x.groups(), 0.4, 4);
  const morph::ChannelSelection expanded = x.scale(learned, 1.7);  // dead channels and copies

  REQUIRE(*std::max_element(expanded.copies.begin(), expanded.copies.end()) > 1);
  for (const morph::ChannelSelection* s : {&learned, &expanded}) {
    const nlohmann::json j = morph::structure_to_json(*s, dense);
    CHECK(morph::structure_from_json(j, dense).copies == s->copies);
    const layers::Model slim = morph::reshape(dense, *s);
    for (const auto& [layer, width] : j.at("learned_structure").items()) {
      INFO(layer);
      CHECK(out_channels(slim.graph, layer) == width.get<int64_t>());
    }
  }
  const nlohmann::json j = morph::structure_to_json(expanded, dense);
  CHECK(j.at("groups") == 400);
  CHECK(j.at("layers").size() == 19);
  CHECK(j.at("layers").at("conv1").at("width") == 16);

  testing::TempDir dir("structure");
  const std::string path = (dir.path / "structure.json").string();
  morph::write_structure(path, expanded, dense);
  CHECK(morph::read_structure(path, dense).copies == expanded.copies);

  // MorphNet's learned_structure.json: first k channels per layer.
  const morph::ChannelSelection counts =
      morph::structure_from_json({{"layer1.0.conv1", 9}, {"layer3.2.conv1", 40}}, dense);
  CHECK(counts.alive_count() == 400 - 7 - 24);

  // A file of another config says so.
  nlohmann::json other = j;
  other["groups"] = 448;
  CHECK_THROWS_WITH(morph::structure_from_json(other, dense), Contains("another config"));
  other = j;
  other["layers"]["layer1.0.conv1"]["width"] = 12;
  CHECK_THROWS_WITH(morph::structure_from_json(other, dense), Contains("layer1.0.conv1"));
}

TEST_CASE("width expansion: widths a latency table favours, never past the dense ones, on the budget",
          "[morph][reshape]") {
  const std::string shortcut = GENERATE(as<std::string>{}, "A", "B");
  layers::Model dense = resnet20(shortcut);
  const morph::ChannelGroups groups(dense.graph, dense.logits);
  // Liked layer widths as a measured table gives them (morph/liked_widths.h), by dense width.
  const std::map<int64_t, std::vector<int64_t>> by_dense{{16, {1, 2, 4, 6, 16}}, {32, {1, 4, 16, 32}},
                                                         {64, {1, 16, 32, 48, 64}}};
  morph::ExpansionOptions options{.multiple = 16, .exact_up_to = 8, .grow = true};
  for (const Node& n : dense.graph.nodes())
    if (n.op->kind() == OpKind::conv2d && n.inputs.size() > 1)
      options.liked_widths[n.name] = by_dense.at(out_channels(dense.graph, n.name));
  const morph::WidthExpander x(dense, options);
  const double full = morph::CostModel(groups, {}).full_cost();
  for (uint64_t seed : {1, 2})
    for (double fraction : {0.3, 0.5, 0.7}) {
      INFO("shortcut " << shortcut << ", seed " << seed << ", budget " << fraction);
      const morph::Expansion e = x.fit(random_selection(groups, 0.5, seed), fraction * full, {});
      CHECK(e.cost <= fraction * full);
      CHECK(e.cost >= (fraction - 0.03) * full);  // the liked steps are coarser than multiples of 16
      const layers::Model slim = morph::reshape(dense, e.selection);
      for (const Node& n : slim.graph.nodes()) {
        if (n.op->kind() != OpKind::conv2d) continue;
        const int64_t w = out_channels(slim.graph, n.name), d = out_channels(dense.graph, n.name);
        INFO(n.name << ": " << w << " of " << d);
        CHECK(w <= d);  // even with grow: the table knows nothing wider
        const std::vector<int64_t>& liked = by_dense.at(d);
        CHECK(std::find(liked.begin(), liked.end(), w) != liked.end());
      }
    }
}
