#include "morph/width_expansion.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "morph/handlers/op_handler.h"

namespace mt::morph {

namespace {

// The conv / linear nodes whose outputs hold each group's channels, in graph order.
std::vector<std::vector<int>> group_layers(const ChannelGroups& groups) {
  const Graph& g = groups.graph();
  std::vector<std::vector<int>> layers(groups.num_groups());
  for (int n : groups.nodes()) {
    if (!is_width_layer(groups, n)) continue;
    const Node& node = g.node(n);
    for (int grp : groups.channel_groups(node.outputs[0]))
      if (grp != ChannelGroups::kNone && (layers[grp].empty() || layers[grp].back() != n))
        layers[grp].push_back(n);
  }
  return layers;
}

double alive_channels(const OpChannels& c, const ChannelSelection& s) {
  double n = static_cast<double>(c.fixed);
  for (const OpChannels::Count& k : c.groups)
    n += static_cast<double>(k.count) * static_cast<double>(s.copies[k.group]);
  return n;
}

}  // namespace

bool is_width_layer(const ChannelGroups& groups, int node) {
  const Graph& g = groups.graph();
  const Node& n = g.node(node);
  if (n.outputs[0] == groups.logits()) return false;
  return handler_for(g, node).role(groups, node) == ChannelRole::filters;
}

std::vector<WidthBlock> width_blocks(const ChannelGroups& groups) {
  const std::vector<std::vector<int>> layers = group_layers(groups);
  std::map<std::vector<int>, size_t> index;  // layer set -> block
  std::vector<WidthBlock> blocks;
  std::set<std::string> names;
  for (int grp = 0; grp < groups.num_groups(); ++grp) {
    const auto [it, fresh] = index.emplace(layers[grp], blocks.size());
    if (fresh) {
      WidthBlock b;
      for (int n : layers[grp]) b.layers.push_back(groups.graph().node(n).name);
      b.name = b.layers.empty() ? "group" + std::to_string(grp) : b.layers.front();
      for (int k = 2; names.count(b.name); ++k) b.name = b.layers.front() + "#" + std::to_string(k);
      names.insert(b.name);
      blocks.push_back(std::move(b));
    }
    blocks[it->second].groups.push_back(grp);
  }
  return blocks;
}

double structure_cost(const CostModel& costs, const ChannelSelection& s) {
  MT_CHECK(s.num_groups() == costs.num_groups(), ShapeError, "[reshape] the selection has ",
           s.num_groups(), " channel groups, the cost model ", costs.num_groups());
  double total = 0;
  for (const CostOp& op : costs.ops())
    total += costs.op_cost(op, alive_channels(op.in, s), alive_channels(op.out, s)).cost;
  return total;
}

WidthExpander::WidthExpander(const layers::Model& dense, ExpansionOptions options)
    : options_(options), groups_(dense.graph, dense.logits),
      blocks_(width_blocks(groups_)) {
  MT_CHECK(options_.multiple >= 1, ConfigError, "[reshape] width multiple must be >= 1, got ",
           options_.multiple);
}

std::vector<int64_t> WidthExpander::block_widths(const ChannelSelection& s) const {
  std::vector<int64_t> out;
  for (const WidthBlock& b : blocks_) {
    int64_t n = 0;
    for (int g : b.groups) n += s.copies.at(g);
    out.push_back(n);
  }
  return out;
}

int64_t WidthExpander::rounded(double width, int64_t dense) const {
  const int64_t q = options_.multiple;
  const int64_t exact = std::max<int64_t>(1, std::llround(width));
  int64_t n = exact <= options_.exact_up_to ? exact
                                            : std::max<int64_t>(q, q * std::llround(width / static_cast<double>(q)));
  if (!options_.grow) n = std::min(n, dense >= q ? dense / q * q : dense);
  return n;
}

ChannelSelection WidthExpander::scale(const ChannelSelection& s, double multiplier) const {
  MT_CHECK(multiplier >= 0 && std::isfinite(multiplier), ConfigError,
           "[reshape] width multiplier must be finite and >= 0, got ", multiplier);
  ChannelSelection in = s;
  revive_empty_values(groups_, in);  // a value with no channel would make the cost meaningless
  ChannelSelection out = in;
  const std::vector<int64_t> widths = block_widths(in);
  for (size_t b = 0; b < blocks_.size(); ++b) {
    if (widths[b] == 0) continue;
    std::vector<int> order = blocks_[b].groups;
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
      if ((in.copies[x] > 0) != (in.copies[y] > 0)) return in.copies[x] > 0;
      return in.score_of(x) > in.score_of(y);
    });
    const int64_t dense = static_cast<int64_t>(order.size());
    const int64_t n = rounded(multiplier * static_cast<double>(widths[b]), dense);
    const int64_t extra = std::max<int64_t>(0, n - dense);
    for (int64_t i = 0; i < dense; ++i) {
      int64_t& c = out.copies[order[i]];
      c = i < n ? 1 : 0;
      if (c) c += extra / dense + (i < extra % dense ? 1 : 0);
    }
  }
  return out;
}

Expansion WidthExpander::fit(const ChannelSelection& s, double target, const CostOptions& cost) const {
  MT_CHECK(target > 0, ConfigError, "[reshape] target cost must be > 0, got ", target);
  const CostModel costs(groups_, cost);
  Expansion best;
  best.target = target;
  double best_error = -1;
  auto try_multiplier = [&](double m) {
    ChannelSelection sel = scale(s, m);
    const double c = structure_cost(costs, sel);
    const double error = std::abs(c / target - 1);
    if (best_error < 0 || error < best_error) {
      best_error = error;
      best.multiplier = m;
      best.cost = c;
      best.selection = std::move(sel);
    }
    return c;
  };
  double lo = 0, hi = 1;
  if (try_multiplier(lo) >= target) return best;
  // Grow the bracket; without growth the cost stops at the dense cost, so give up after a while.
  while (try_multiplier(hi) < target && hi < 1e4) hi *= 2;
  for (int i = 0; i < 60 && best_error > 1e-4; ++i) {
    const double mid = 0.5 * (lo + hi);
    (try_multiplier(mid) < target ? lo : hi) = mid;
  }
  return best;
}

ChannelSelection scale(const layers::Model& dense, const ChannelSelection& s, double multiplier,
                       const ExpansionOptions& options) {
  return WidthExpander(dense, options).scale(s, multiplier);
}

double find_multiplier(const layers::Model& dense, const ChannelSelection& s, double target_cost,
                       const CostOptions& cost, const ExpansionOptions& options) {
  return WidthExpander(dense, options).fit(s, target_cost, cost).multiplier;
}

}  // namespace mt::morph
