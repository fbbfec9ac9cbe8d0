#include "tools/structure_choice.h"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <optional>

#include "kernels/cpu/conv_thin.h"
#include "morph/channel_selection.h"
#include "morph/liked_widths.h"
#include "morph/width_expansion.h"

namespace mt::tools {

namespace {
std::string percent(double part, double whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", whole > 0 ? 100 * part / whole : 0.0);
  return buf;
}
}  // namespace

StructureChoice choose_structure(const layers::Model& dense, const morph::NetworkRegularizer& reg,
                                 const StructureChoiceOptions& options) {
  const morph::CostModel& costs = reg.cost_model();
  const double full = costs.full_cost();
  StructureChoice c;
  c.selection = morph::selection_from_regularizer(reg);
  c.learned_cost = c.trimmed_cost = morph::structure_cost(costs, c.selection);
  c.notes.push_back("learned structure: " + costs.cost_name() + " " + percent(c.learned_cost, full) + " of dense");

  const double budget = options.budget_fraction * full;
  if (options.budget_fraction > 0 && c.trimmed_cost > budget) {
    // Alive, regularized groups, weakest first; a group that is not regularized (no source)
    // cannot be judged and stays.
    const morph::GroupState state = reg.group_regularizer().evaluate();
    std::vector<int> order;
    for (int g = 0; g < c.selection.num_groups(); ++g)
      if (c.selection.alive(g) && state.regularized[g]) order.push_back(g);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return state.reg[a] < state.reg[b]; });
    double threshold = 0;
    size_t next = 0;
    auto trim = [&] {
      for (; next < order.size() && c.trimmed_cost > budget; ++next) {
        const int g = order[next];
        if (c.selection.copies[g] == 0) continue;
        c.selection.copies[g] = 0;
        threshold = state.reg[g];
        ++c.trimmed_groups;
        c.trimmed_cost = morph::structure_cost(costs, c.selection);
      }
    };
    trim();
    char buf[160];
    std::snprintf(buf, sizeof buf, "above the budget: %lld more channel groups removed (threshold raised to %.3g)",
                  static_cast<long long>(c.trimmed_groups), threshold);
    c.notes.push_back(buf + std::string(", now ") + percent(c.trimmed_cost, full));
    // A layer left without a channel keeps its strongest one (the reshape would revive it anyway):
    // counted here, and trimmed elsewhere where that put the cost back above the budget.
    for (int round = 0; round < 64; ++round) {
      const std::vector<std::string> revived = morph::revive_empty_values(reg.groups(), c.selection);
      if (revived.empty()) break;
      const int64_t before = c.trimmed_groups;
      c.trimmed_cost = morph::structure_cost(costs, c.selection);
      trim();
      c.notes.push_back(std::to_string(revived.size()) + " emptied layers keep one channel each; " +
                        std::to_string(c.trimmed_groups - before) + " more groups removed, now " +
                        percent(c.trimmed_cost, full));
      for (const std::string& line : revived) c.notes.push_back(line);
    }
  }
  c.final_cost = c.trimmed_cost;

  // Learning overshot the budget (channels keep dying after the strength that kills them):
  // MorphNet's last step, a uniform width expansion, brings the structure back up to it.
  double expand_fraction = options.expand_fraction;
  if (expand_fraction <= 0 && options.budget_fraction > 0 && c.trimmed_cost < 0.95 * budget)
    expand_fraction = options.budget_fraction;
  morph::ExpansionOptions eo;
  eo.multiple = std::max<int64_t>(options.round_to, 1);
  // Widths the thin-convolution kernels serve stay as learned: rounding them up buys no speed.
  eo.exact_up_to = cpu::kThinOutMax;
  // Never wider than the dense layer: past it the slim model does more work per layer than the
  // dense one, on widths (66, 33) the blocked kernels of oneDNN and ONNX Runtime run worst.
  eo.grow = false;
  if (options.width_table) eo.liked_widths = morph::liked_widths_by_layer(costs, *options.width_table);
  const morph::WidthExpander expander(dense, eo);
  const morph::ChannelSelection trimmed = c.selection;
  std::string rounding =
      eo.multiple > 1 ? " with widths above " + std::to_string(eo.exact_up_to) + " rounded to multiples of " + std::to_string(eo.multiple) : "";
  if (options.width_table)
    rounding = " with widths rounded to those the latency table favours (" + std::to_string(eo.liked_widths.size()) +
               " layers measured)" + (eo.multiple > 1 ? ", the others" + rounding : "");
  if (expand_fraction > 0 || options.round_to > 1 || options.width_table) {
    // Without an expansion target, rounding aims at the cost the structure had.
    const double target = expand_fraction > 0 ? expand_fraction * full : c.trimmed_cost;
    const morph::Expansion e = expander.fit(c.selection, target, costs.options());
    c.selection = e.selection;
    c.multiplier = e.multiplier;
    c.final_cost = e.cost;
    char buf[200];
    std::snprintf(buf, sizeof buf, "width expansion x%.3f%s: %s of dense (target %s)", e.multiplier, rounding.c_str(),
                  percent(e.cost, full).c_str(), percent(target, full).c_str());
    c.notes.push_back(buf);
  }
  // A budget in latency or size leaves the FLOPs free (two seeds at one latency budget learned
  // 25% and 30% of them). Under a cap, the structure is refitted to the largest cost in the
  // budget's unit whose fit keeps the FLOPs under the cap (bisection on that cost: a fit to the
  // FLOPs alone would spend the cap on other widths and could pass the budget).
  if (options.max_flops_fraction > 0) {
    const morph::CostModel flops(reg.groups(), morph::CostOptions{});
    const double cap = options.max_flops_fraction * flops.full_cost();
    const double had = morph::structure_cost(flops, c.selection);
    if (had > cap) {
      // The FLOPs of a fit do not grow strictly with its target (which blocks take the last
      // rounding steps depends on it), so the bisection keeps the costliest fit under the cap it
      // has seen, and a grid over the upper half of the range adds candidates it may skip.
      std::optional<morph::Expansion> best;
      auto consider = [&](double target) {
        morph::Expansion e = expander.fit(trimmed, target, costs.options());
        const bool fits = morph::structure_cost(flops, e.selection) <= cap;
        if (fits && (!best || e.cost > best->cost)) best = std::move(e);
        return fits;
      };
      double lo = 0, hi = c.final_cost;
      for (int step = 0; step < 24; ++step) {
        const double mid = 0.5 * (lo + hi);
        (consider(mid) ? lo : hi) = mid;
      }
      for (int k = 1; k <= 32; ++k) consider(c.final_cost * (0.5 + 0.5 * k / 32));
      // Even the narrowest fit passes the cap (a cap below the smallest structure): fit the FLOPs.
      if (!best) best = expander.fit(trimmed, cap, flops.options());
      c.selection = best->selection;
      c.multiplier = best->multiplier;
      c.final_cost = morph::structure_cost(costs, c.selection);
      const double now = morph::structure_cost(flops, c.selection);
      char buf[240];
      std::snprintf(buf, sizeof buf, "FLOPs capped at %s of dense (pipeline.max_flops): %s -> %s, widths refitted x%.3f%s; %s %s of dense",
                    percent(cap, flops.full_cost()).c_str(), percent(had, flops.full_cost()).c_str(),
                    percent(now, flops.full_cost()).c_str(), best->multiplier, rounding.c_str(), costs.cost_name().c_str(),
                    percent(c.final_cost, full).c_str());
      c.notes.push_back(buf);
    }
  }
  return c;
}

}  // namespace mt::tools
