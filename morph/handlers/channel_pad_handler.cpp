// channel_pad (the option-A shortcut): input channel i lands on pad_before + i; the padding is
// constant zero channels that tie nothing until a residual add gives them a group, and the slim
// op pads with the zero channels kept on each side.
#include "core/ops/channel_pad.h"
#include "morph/constant_propagation.h"
#include "morph/handlers/handler_util.h"
#include "morph/handlers/handlers.h"
#include "morph/reshape_planner.h"

namespace mt::morph {

namespace {

const ChannelPadDesc& desc_of(const Graph& g, int node) {
  return dynamic_cast<const ChannelPadOp&>(*g.node(node).op).desc();
}

class ChannelPadHandler final : public OpHandler {
 public:
  Atoms group(ChannelWalk& walk, int node) const override {
    const ChannelPadDesc& d = desc_of(walk.graph(), node);
    const Atoms& in = walk.atoms(walk.graph().node(node).inputs[0]);
    Atoms out(static_cast<size_t>(d.pad_before), -1);
    out.insert(out.end(), in.begin(), in.end());
    out.insert(out.end(), static_cast<size_t>(d.pad_after), -1);
    return out;
  }

  std::optional<Placement> placement(const ChannelGroups& groups, int node, size_t i) const override {
    return if_activation(groups, node, i, Placement{desc_of(groups.graph(), node).pad_before});
  }

  Slots moved_slots(const ChannelGroups& groups, const ChannelPlan& plan, int node,
                    const ChannelSelection& s) const override {
    const Node& n = groups.graph().node(node);
    const int64_t before = desc_of(groups.graph(), node).pad_before;
    const int64_t after_start = before + groups.shapes()[n.inputs[0]][1];
    const std::vector<int>& eg = plan.groups[n.outputs[0]];
    Slots out = slots_from_groups(std::vector<int>(eg.begin(), eg.begin() + before), s);
    for (const Slot& x : plan.slots[n.inputs[0]]) out.push_back({before + x.index, x.copy});
    for (const Slot& x : slots_from_groups(std::vector<int>(eg.begin() + after_start, eg.end()), s))
      out.push_back({after_start + x.index, x.copy});
    return out;
  }

  Channels constants(const ConstantPropagation& p, int node) const override {
    const ChannelPadDesc& d = desc_of(p.graph(), node);
    Channels out(static_cast<size_t>(d.pad_before), 0.0);
    out.insert(out.end(), p.in(node).begin(), p.in(node).end());
    out.insert(out.end(), static_cast<size_t>(d.pad_after), 0.0);
    return out;
  }

  void plan_reshape(ReshapePlanner& r, int node) const override {
    const Graph& g = r.graph();
    const ChannelPadDesc& d = desc_of(g, node);
    const int64_t after_start = d.pad_before + r.groups().shapes()[g.node(node).inputs[0]][1];
    ChannelPadDesc slim{0, 0, d.stride};
    for (const Slot& s : r.slots(g.node(node).outputs[0])) {
      slim.pad_before += s.index < d.pad_before;
      slim.pad_after += s.index >= after_start;
    }
    r.replace_op(node, std::make_shared<ChannelPadOp>(slim));
  }
};

}  // namespace

const OpHandler& channel_pad_handler() {
  static const ChannelPadHandler h;
  return h;
}

}  // namespace mt::morph
