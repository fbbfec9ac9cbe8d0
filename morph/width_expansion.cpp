#include "morph/width_expansion.h"

#include <algorithm>
#include <cmath>
#include <iterator>
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
      blocks_(width_blocks(groups_)), enclosing_(blocks_.size()) {
  MT_CHECK(options_.multiple >= 1, ConfigError, "[reshape] width multiple must be >= 1, got ",
           options_.multiple);
  std::vector<std::vector<std::string>> sorted_layers;
  for (const WidthBlock& b : blocks_) {
    sorted_layers.push_back(b.layers);
    std::sort(sorted_layers.back().begin(), sorted_layers.back().end());
  }
  for (size_t b = 0; b < blocks_.size(); ++b) {
    outer_first_.push_back(b);
    if (sorted_layers[b].empty()) continue;
    for (size_t c = 0; c < blocks_.size(); ++c)
      if (sorted_layers[c].size() > sorted_layers[b].size() &&
          std::includes(sorted_layers[c].begin(), sorted_layers[c].end(), sorted_layers[b].begin(), sorted_layers[b].end()))
        enclosing_[b].push_back(c);
  }
  // A block's enclosing blocks hold more layers, so they come first.
  std::stable_sort(outer_first_.begin(), outer_first_.end(),
                   [&](size_t x, size_t y) { return blocks_[x].layers.size() > blocks_[y].layers.size(); });
  // A block's liked widths: those its first layer's list and the lists of its other layers of the
  // same dense width all hold (a ResNet trunk: the stem and every conv2 of its stage). The layers of
  // other dense widths hold this block inside wider ones (option A's later trunks): their widths are
  // the nested blocks' to choose. A list ends at its layer's dense width (morph/liked_widths.h).
  for (const WidthBlock& b : blocks_) {
    std::vector<int64_t> liked;
    bool first = true;
    for (const std::string& layer : b.layers) {
      const auto it = options_.liked_widths.find(layer);
      if (it == options_.liked_widths.end() || it->second.empty()) continue;
      const std::vector<int64_t>& list = it->second;
      if (first) {
        liked = list;
        first = false;
      } else if (!liked.empty() && list.back() == liked.back()) {
        std::vector<int64_t> both;
        std::set_intersection(liked.begin(), liked.end(), list.begin(), list.end(), std::back_inserter(both));
        liked = std::move(both);
      }
    }
    liked_.push_back(std::move(liked));
  }
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

int64_t WidthExpander::enclosing_width(size_t b, const std::vector<int64_t>& widths) const {
  int64_t n = 0;
  for (size_t c : enclosing_[b]) n += widths[c];
  return n;
}

std::vector<int64_t> WidthExpander::liked_layer_widths(size_t b, const std::vector<int64_t>& widths) const {
  std::vector<int64_t> out;
  if (liked_[b].empty()) return out;
  const int64_t outer = enclosing_width(b, widths), dense = static_cast<int64_t>(blocks_[b].groups.size());
  for (int64_t layer : liked_[b])
    if (layer - outer >= 1 && layer - outer <= dense) out.push_back(layer);
  return out;
}

int64_t WidthExpander::rounded(size_t b, double width, const std::vector<int64_t>& widths) const {
  if (!liked_[b].empty()) {
    // The liked layer width nearest to the asked one (the wider on a tie); where none leaves this
    // block a channel within its dense width, the width as asked.
    const int64_t dense = static_cast<int64_t>(blocks_[b].groups.size());
    const int64_t outer = enclosing_width(b, widths);
    const double want = static_cast<double>(outer) + width;
    int64_t best = -1;
    for (int64_t layer : liked_layer_widths(b, widths))
      if (best < 0 || std::abs(static_cast<double>(layer) - want) <= std::abs(static_cast<double>(best) - want))
        best = layer;
    return best > 0 ? best - outer : std::clamp<int64_t>(std::llround(width), 1, dense);
  }
  const int64_t q = options_.multiple;
  const int64_t dense = static_cast<int64_t>(blocks_[b].groups.size());
  const int64_t exact = std::max<int64_t>(1, std::llround(width));
  // The block on its own: a multiple of q, or its exact width where thin.
  auto alone = [&] {
    int64_t n = exact <= options_.exact_up_to ? exact
                                              : std::max<int64_t>(q, q * std::llround(width / static_cast<double>(q)));
    if (!options_.grow) n = std::min(n, dense >= q ? dense / q * q : dense);
    return n;
  };
  const int64_t outer = enclosing_width(b, widths);
  if (outer == 0 || q <= 1) return alone();
  if (outer + exact <= options_.exact_up_to) return options_.grow ? exact : std::min(exact, dense);
  // Round the layer's width, and give this block what the enclosing blocks leave of it.
  int64_t layer = std::max<int64_t>(q, q * std::llround((static_cast<double>(outer) + width) / static_cast<double>(q)));
  if (!options_.grow) layer = std::min(layer, (outer + dense) / q * q);
  if (layer - outer >= 1) return layer - outer;
  layer = (outer / q + 1) * q;  // the nearest multiple left no channel: the next one
  if (options_.grow || layer - outer <= dense) return layer - outer;
  return alone();  // no multiple fits within the dense width
}

ChannelSelection WidthExpander::scale(const ChannelSelection& s, double multiplier) const {
  MT_CHECK(multiplier >= 0 && std::isfinite(multiplier), ConfigError,
           "[reshape] width multiplier must be finite and >= 0, got ", multiplier);
  ChannelSelection in = s;
  revive_empty_values(groups_, in);  // a value with no channel would make the cost meaningless
  const std::vector<int64_t> alive = block_widths(in);
  std::vector<int64_t> widths = alive;
  for (size_t b : outer_first_)
    if (alive[b] > 0) widths[b] = rounded(b, multiplier * static_cast<double>(alive[b]), widths);
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

int64_t WidthExpander::next_width(size_t b, const std::vector<int64_t>& widths) const {
  if (!liked_[b].empty()) {
    const int64_t layer = enclosing_width(b, widths) + widths[b];
    for (int64_t l : liked_layer_widths(b, widths))
      if (l > layer) return l - (layer - widths[b]);
    return widths[b];
  }
  const int64_t q = options_.multiple, width = widths[b];
  const int64_t dense = static_cast<int64_t>(blocks_[b].groups.size());
  const int64_t outer = enclosing_width(b, widths), layer = outer + width;
  const int64_t next = (layer < options_.exact_up_to || q <= 1 ? layer + 1 : (layer / q + 1) * q) - outer;
  const int64_t cap = options_.grow ? std::numeric_limits<int64_t>::max()
                                    : (outer + dense >= q ? (outer + dense) / q * q - outer : dense);
  return next <= cap ? next : width;
}

int64_t WidthExpander::previous_width(size_t b, const std::vector<int64_t>& widths) const {
  if (!liked_[b].empty()) {
    const int64_t outer = enclosing_width(b, widths), layer = outer + widths[b];
    const std::vector<int64_t> liked = liked_layer_widths(b, widths);
    for (auto it = liked.rbegin(); it != liked.rend(); ++it)
      if (*it < layer) return *it - outer;
    return widths[b];
  }
  const int64_t q = options_.multiple, width = widths[b];
  const int64_t outer = enclosing_width(b, widths), layer = outer + width;
  if (layer <= options_.exact_up_to || q <= 1) return std::max<int64_t>(1, width - 1);
  const int64_t back = (layer - 1) / q * q;
  return back >= q && back - outer >= 1 ? back - outer : width;  // the smallest rounded width stays
}

void WidthExpander::align(std::vector<int64_t>& widths) const {
  const int64_t q = options_.multiple;
  for (size_t b : outer_first_) {
    if (enclosing_[b].empty() || widths[b] == 0) continue;
    const int64_t layer = enclosing_width(b, widths) + widths[b];
    if (!liked_[b].empty()) {
      const std::vector<int64_t> liked = liked_layer_widths(b, widths);
      if (!liked.empty() && std::find(liked.begin(), liked.end(), layer) == liked.end())
        widths[b] = rounded(b, static_cast<double>(widths[b]), widths);
    } else if (q > 1 && layer > options_.exact_up_to && layer % q != 0) {
      widths[b] = rounded(b, static_cast<double>(widths[b]), widths);
    }
  }
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
  // step, such as a stem trunk from 8 to 16, can then fit), or several blocks a step each, the
  // cheapest steps first (the stem's step also widens the trunks nested in it, by a multiple
  // each); a bounded number of such give-backs.
  std::vector<int64_t> widths = block_widths(under.selection);
  const ChannelSelection base = under.selection;
  auto cost_of = [&](const std::vector<int64_t>& w) { return structure_cost(costs, with_block_widths(base, w)); };
  // `w` with block d one rounding step narrower and the blocks nested in it following; empty when
  // d has no step to give.
  auto stepped_back = [&](const std::vector<int64_t>& w, size_t d) {
    std::vector<int64_t> t;
    const int64_t back = previous_width(d, w);
    if (w[d] == 0 || back == w[d]) return t;
    t = w;
    t[d] = back;
    align(t);
    return t;
  };
  // Gives back the cheapest steps of blocks other than `b` until `w` is under the target.
  auto give_back = [&](std::vector<int64_t> w, size_t b, double c) {
    for (int k = 0; k < 24 && c > target; ++k) {
      double kept = -1;
      std::vector<int64_t> pick;
      for (size_t d = 0; d < blocks_.size(); ++d) {
        if (d == b) continue;
        std::vector<int64_t> t = stepped_back(w, d);
        if (t.empty() || t[b] != w[b]) continue;  // b's own step stays
        const double ct = cost_of(t);
        if (ct < c && ct > kept) kept = ct, pick = std::move(t);
      }
      if (pick.empty()) break;
      w = std::move(pick);
      c = kept;
    }
    return std::make_pair(c, std::move(w));
  };
  int swaps = 0;
  for (;;) {
    double best_cost = under.cost;
    std::vector<int64_t> best;
    struct TooWide {  // a step past the target
      size_t block;
      std::vector<int64_t> widths;
      double cost;
    };
    std::vector<TooWide> too_wide;
    for (size_t b = 0; b < blocks_.size(); ++b) {
      if (widths[b] == 0) continue;
      const int64_t next = next_width(b, widths);
      if (next == widths[b]) continue;
      std::vector<int64_t> trial = widths;
      trial[b] = next;
      align(trial);  // the blocks nested in b follow it
      const double c = cost_of(trial);
      if (c <= target && c > best_cost) best_cost = c, best = trial;
      if (c <= target || swaps >= 32) continue;
      for (size_t d = 0; d < blocks_.size(); ++d) {
        if (d == b) continue;
        std::vector<int64_t> swapped = stepped_back(trial, d);
        if (swapped.empty()) continue;
        const double cs = cost_of(swapped);
        if (cs <= target && cs > best_cost) best_cost = cs, best = std::move(swapped);
      }
      too_wide.push_back({b, std::move(trial), c});
    }
    // Only when nothing simpler fits: it costs a pass over the blocks per give-back.
    if (best.empty())
      for (TooWide& t : too_wide) {
        auto [c, w] = give_back(std::move(t.widths), t.block, t.cost);
        if (c <= target && c > best_cost) best_cost = c, best = std::move(w);
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
