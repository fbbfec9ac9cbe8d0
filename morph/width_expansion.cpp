#include "morph/width_expansion.h"

#include <algorithm>
#include <cmath>
#include <limits>
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
  std::vector<int64_t> widths = block_widths(in);
  for (size_t b = 0; b < blocks_.size(); ++b)
    if (widths[b] > 0)
      widths[b] = rounded(multiplier * static_cast<double>(widths[b]), static_cast<int64_t>(blocks_[b].groups.size()));
  return with_block_widths(in, widths);
}

ChannelSelection WidthExpander::with_block_widths(const ChannelSelection& s, const std::vector<int64_t>& widths) const {
  ChannelSelection out = s;
  for (size_t b = 0; b < blocks_.size(); ++b) {
    if (widths[b] == 0) continue;
    std::vector<int> order = blocks_[b].groups;
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
      if ((s.copies[x] > 0) != (s.copies[y] > 0)) return s.copies[x] > 0;
      return s.score_of(x) > s.score_of(y);
    });
    const int64_t dense = static_cast<int64_t>(order.size());
    const int64_t n = widths[b];
    const int64_t extra = std::max<int64_t>(0, n - dense);
    for (int64_t i = 0; i < dense; ++i) {
      int64_t& c = out.copies[order[i]];
      c = i < n ? 1 : 0;
      if (c) c += extra / dense + (i < extra % dense ? 1 : 0);
    }
  }
  return out;
}

int64_t WidthExpander::next_width(int64_t width, int64_t dense) const {
  const int64_t q = options_.multiple;
  const int64_t next = width < options_.exact_up_to || q <= 1 ? width + 1 : (width / q + 1) * q;
  const int64_t cap = options_.grow ? std::numeric_limits<int64_t>::max() : (dense >= q ? dense / q * q : dense);
  return next <= cap ? next : width;
}

int64_t WidthExpander::previous_width(int64_t width) const {
  const int64_t q = options_.multiple;
  if (width <= options_.exact_up_to || q <= 1) return std::max<int64_t>(1, width - 1);
  const int64_t back = (width - 1) / q * q;
  return back >= q ? back : width;  // the smallest rounded width stays
}

Expansion WidthExpander::fit(const ChannelSelection& s, double target, const CostOptions& cost) const {
  MT_CHECK(target > 0, ConfigError, "[reshape] target cost must be > 0, got ", target);
  const CostModel costs(groups_, cost);
  // The closest selection at or under the target, else (when even the smallest is above it) the
  // closest one: a budget is a ceiling, and rounding must not break it.
  Expansion under, over;
  under.target = over.target = target;
  bool have_under = false, have_over = false;
  auto consider = [&](ChannelSelection sel, double m) {
    const double c = structure_cost(costs, sel);
    Expansion& e = c <= target ? under : over;
    bool& have = c <= target ? have_under : have_over;
    if (!have || std::abs(c - target) < std::abs(e.cost - target)) {
      have = true;
      e.multiplier = m;
      e.cost = c;
      e.selection = std::move(sel);
    }
    return c;
  };
  auto try_multiplier = [&](double m) { return consider(scale(s, m), m); };
  double lo = 0, hi = 1;
  if (try_multiplier(lo) >= target) return have_under ? under : over;
  // Grow the bracket; without growth the cost stops at the dense cost, so give up after a while.
  while (try_multiplier(hi) < target && hi < 1e4) hi *= 2;
  for (int i = 0; i < 60 && !(have_under && under.cost >= (1 - 1e-4) * target); ++i) {
    const double mid = 0.5 * (lo + hi);
    (try_multiplier(mid) < target ? lo : hi) = mid;
  }
  if (!have_under) return over;
  // A uniform multiplier moves every block at once, and rounded widths move in steps of
  // `multiple`: refit by widening one block at a time, each time the one whose next step fills
  // the remaining budget best without passing it, until no step fits.
  // When no single step fits, one block may give a step back for another to take one (a wide
  // step, such as a stem trunk from 8 to 16, can then fit); a bounded number of such swaps.
  std::vector<int64_t> widths = block_widths(under.selection);
  const ChannelSelection base = under.selection;
  auto cost_of = [&](const std::vector<int64_t>& w) { return structure_cost(costs, with_block_widths(base, w)); };
  int swaps = 0;
  for (;;) {
    double best_cost = under.cost;
    std::vector<int64_t> best;
    for (size_t b = 0; b < blocks_.size(); ++b) {
      if (widths[b] == 0) continue;
      const int64_t next = next_width(widths[b], static_cast<int64_t>(blocks_[b].groups.size()));
      if (next == widths[b]) continue;
      std::vector<int64_t> trial = widths;
      trial[b] = next;
      const double c = cost_of(trial);
      if (c <= target && c > best_cost) best_cost = c, best = trial;
      if (c <= target || swaps >= 16) continue;
      for (size_t d = 0; d < blocks_.size(); ++d) {
        const int64_t back = previous_width(widths[d]);
        if (d == b || widths[d] == 0 || back == widths[d]) continue;
        std::vector<int64_t> swapped = trial;
        swapped[d] = back;
        const double cs = cost_of(swapped);
        if (cs <= target && cs > best_cost) best_cost = cs, best = swapped;
      }
    }
    if (best.empty()) break;
    for (size_t b = 0; b < widths.size(); ++b) swaps += best[b] < widths[b];
    widths = best;
    under.cost = best_cost;
  }
  under.selection = with_block_widths(base, widths);
  return under;
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
