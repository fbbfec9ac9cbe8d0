#include "morph/channel_plan.h"

#include <optional>
#include <set>

#include "core/ops/channel_pad.h"

namespace mt::morph {

namespace {

const std::set<std::string_view> kPassThrough = {"batchnorm2d", "relu",      "sigmoid",
                                                 "dropout",     "maxpool2d", "avgpool2d",
                                                 "global_avgpool2d", "gate"};

bool is_activation(const Graph& g, ValueId v) {
  const ValueKind k = g.value(v).kind;
  return k == ValueKind::activation || k == ValueKind::input;
}

// Input channel c of a positional op lands on output position offset + c x per_channel (flatten
// spreads a channel over H x W features).
struct Placement {
  int64_t offset = 0;
  int64_t per_channel = 1;
};

// Where input `i` of an analysed node goes in its output, for the ops that move channels
// without mixing them; nullopt for the rest (convs, linears, unknown ops).
std::optional<Placement> placement(const ChannelGroups& groups, int node, size_t i) {
  const Graph& g = groups.graph();
  const Node& n = g.node(node);
  const std::string_view kind = n.op->kind();
  const ValueId x = n.inputs[i];
  if (!is_activation(g, x)) return std::nullopt;
  if ((kPassThrough.count(kind) && i == 0) || kind == "add") return Placement{};
  if (kind == "conv2d" && i == 0 && is_depthwise_conv(g, groups.shapes(), node)) return Placement{};
  if (kind == "mul") return Placement{};
  if (kind == "channel_pad") return Placement{dynamic_cast<const ChannelPadOp&>(*n.op).desc().pad_before};
  if (kind == "flatten") {
    const Shape& s = groups.shapes()[x];
    return Placement{0, s.rank() <= 2 ? 1 : s.numel() / (s[0] * s[1])};
  }
  if (kind == "concat") {
    int64_t offset = 0;
    for (size_t k = 0; k < i; ++k) offset += groups.shapes()[n.inputs[k]][1];
    return Placement{offset};
  }
  return std::nullopt;
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
    const std::vector<int>& out = eg[n.outputs[0]];
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const auto p = placement(groups, *it, i);
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

Slots from_groups(const std::vector<int>& eg, const ChannelSelection& s) {
  Slots out;
  for (size_t c = 0; c < eg.size(); ++c) {
    const int64_t n = eg[c] == ChannelGroups::kNone ? 1 : s.copies[eg[c]];
    for (int64_t k = 0; k < n; ++k) out.push_back({static_cast<int64_t>(c), k});
  }
  return out;
}

Slots shifted(const Slots& in, const Placement& p) {
  Slots out;
  for (const Slot& s : in)
    for (int64_t f = 0; f < p.per_channel; ++f)
      out.push_back({p.offset + s.index * p.per_channel + f, s.copy});
  return out;
}

// The output slots of a positional node from its inputs' slots.
Slots positional_slots(const ChannelGroups& groups, const ChannelPlan& plan, int node,
                       const ChannelSelection& s) {
  const Node& n = groups.graph().node(node);
  const std::string_view kind = n.op->kind();
  const ValueId y = n.outputs[0];
  if (kind == "concat") {
    Slots out;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Slots part = shifted(plan.slots[n.inputs[i]], *placement(groups, node, i));
      out.insert(out.end(), part.begin(), part.end());
    }
    return out;
  }
  if (kind == "channel_pad") {
    const int64_t before = dynamic_cast<const ChannelPadOp&>(*n.op).desc().pad_before;
    const int64_t after_start = before + groups.shapes()[n.inputs[0]][1];
    const std::vector<int>& eg = plan.groups[y];
    Slots out = from_groups(std::vector<int>(eg.begin(), eg.begin() + before), s);
    for (const Slot& x : plan.slots[n.inputs[0]]) out.push_back({before + x.index, x.copy});
    for (const Slot& x : from_groups(std::vector<int>(eg.begin() + after_start, eg.end()), s))
      out.push_back({after_start + x.index, x.copy});
    return out;
  }
  // One-to-one ops: every positional input must list the same channels.
  Slots out = shifted(plan.slots[n.inputs[0]], *placement(groups, node, 0));
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    if (!placement(groups, node, i)) continue;
    MT_CHECK(plan.slots[n.inputs[i]] == out, ShapeError, "[reshape] the inputs of '", n.name,
             "' would keep different channels");
  }
  return out;
}

}  // namespace

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
  for (ValueId v : g.inputs()) plan.slots[v] = from_groups(plan.groups[v], s);
  for (int node : groups.nodes()) {
    const Node& n = g.node(node);
    bool positional = false;
    for (size_t i = 0; i < n.inputs.size() && !positional; ++i)
      positional = placement(groups, node, i).has_value();
    for (ValueId y : n.outputs) plan.slots[y] = from_groups(plan.groups[y], s);
    if (!positional) continue;
    Slots moved = positional_slots(groups, plan, node, s);
    // Flatten with new copies lays each copy's features out together, unlike from_groups; any
    // other op must agree with the groups of its output.
    MT_CHECK(n.op->kind() == "flatten" || moved == plan.slots[n.outputs[0]], ShapeError,
             "[reshape] the channels of '", n.name, "' do not follow from its inputs");
    plan.slots[n.outputs[0]] = std::move(moved);
  }
  return plan;
}

}  // namespace mt::morph
