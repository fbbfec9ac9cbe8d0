#include "morph/channel_plan.h"

#include "morph/handlers/op_handler.h"

namespace mt::morph {

namespace {

// Whether any input of the node has a placement: the node moves channels rather than making them.
bool positional(const OpHandler& h, const ChannelGroups& groups, int node) {
  const size_t inputs = groups.graph().node(node).inputs.size();
  for (size_t i = 0; i < inputs; ++i)
    if (h.placement(groups, node, i)) return true;
  return false;
}

// A constant zero channel of a channel_pad has no group of its own; the add that sums it with a
// conv's channel decides its fate. Walking the nodes backwards hands every such channel the group
// found at its position downstream.
std::vector<std::vector<int>> resolve_zero_channels(const ChannelGroups& groups) {
  const Graph& g = groups.graph();
  std::vector<std::vector<int>> eg(g.num_values());
  for (ValueId v = 0; v < g.num_values(); ++v) eg[v] = groups.channel_groups(v);
  const std::vector<int>& nodes = groups.nodes();
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    const Node& n = g.node(*it);
    const OpHandler& h = handler_for(g, *it);
    const std::vector<int>& out = eg[n.outputs[0]];
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const auto p = h.placement(groups, *it, i);
      if (!p) continue;
      std::vector<int>& in = eg[n.inputs[i]];
      for (size_t c = 0; c < in.size(); ++c) {
        const int down = out.at(p->offset + static_cast<int64_t>(c) * p->per_channel);
        if (down == ChannelGroups::kNone || in[c] == down) continue;
        MT_CHECK(in[c] == ChannelGroups::kNone, ShapeError, "[reshape] channel ", c, " of '",
                 g.value(n.inputs[i]).name, "' is tied to groups ", in[c], " and ", down);
        in[c] = down;
      }
    }
  }
  return eg;
}

}  // namespace

Slots slots_from_groups(const std::vector<int>& eg, const ChannelSelection& s) {
  Slots out;
  for (size_t c = 0; c < eg.size(); ++c) {
    const int64_t n = eg[c] == ChannelGroups::kNone ? 1 : s.copies[eg[c]];
    for (int64_t k = 0; k < n; ++k) out.push_back({static_cast<int64_t>(c), k});
  }
  return out;
}

Slots shifted_slots(const Slots& in, const Placement& p) {
  Slots out;
  for (const Slot& s : in)
    for (int64_t f = 0; f < p.per_channel; ++f) out.push_back({p.offset + s.index * p.per_channel + f, s.copy});
  return out;
}

bool is_identity(const Slots& slots, int64_t dense_channels) {
  if (static_cast<int64_t>(slots.size()) != dense_channels) return false;
  for (int64_t c = 0; c < dense_channels; ++c)
    if (slots[c].index != c || slots[c].copy != 0) return false;
  return true;
}

ChannelPlan plan_channels(const ChannelGroups& groups, const ChannelSelection& s) {
  MT_CHECK(s.num_groups() == groups.num_groups(), ShapeError, "[reshape] the selection has ",
           s.num_groups(), " channel groups, the model ", groups.num_groups());
  const Graph& g = groups.graph();
  ChannelPlan plan;
  plan.groups = resolve_zero_channels(groups);
  plan.slots.resize(g.num_values());
  for (ValueId v : g.inputs()) plan.slots[v] = slots_from_groups(plan.groups[v], s);
  for (int node : groups.nodes()) {
    const Node& n = g.node(node);
    const OpHandler& h = handler_for(g, node);
    for (ValueId y : n.outputs) plan.slots[y] = slots_from_groups(plan.groups[y], s);
    if (!positional(h, groups, node)) continue;
    Slots moved = h.moved_slots(groups, plan, node, s);
    MT_CHECK(!h.slots_follow_groups() || moved == plan.slots[n.outputs[0]], ShapeError,
             "[reshape] the channels of '", n.name, "' do not follow from its inputs");
    plan.slots[n.outputs[0]] = std::move(moved);
  }
  return plan;
}

}  // namespace mt::morph
