// concat: lays its inputs' channels side by side; the cost models read its input channels off
// its output (its inputs are the output split up, as MorphNet counts it).
#include "morph/constant_propagation.h"
#include "morph/handlers/handler_util.h"
#include "morph/handlers/handlers.h"

namespace mt::morph {

namespace {

class ConcatHandler final : public OpHandler {
 public:
  Atoms group(ChannelWalk& walk, int node) const override {
    Atoms out;
    for (ValueId v : walk.graph().node(node).inputs) out.insert(out.end(), walk.atoms(v).begin(), walk.atoms(v).end());
    return out;
  }

  std::optional<Placement> placement(const ChannelGroups& groups, int node, size_t i) const override {
    const Node& n = groups.graph().node(node);
    int64_t offset = 0;
    for (size_t k = 0; k < i; ++k) offset += groups.shapes()[n.inputs[k]][1];
    return if_activation(groups, node, i, Placement{offset});
  }

  Slots moved_slots(const ChannelGroups& groups, const ChannelPlan& plan, int node,
                    const ChannelSelection&) const override {
    const Node& n = groups.graph().node(node);
    Slots out;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Slots part = shifted_slots(plan.slots[n.inputs[i]], *placement(groups, node, i));
      out.insert(out.end(), part.begin(), part.end());
    }
    return out;
  }

  Channels constants(const ConstantPropagation& p, int node) const override {
    Channels out;
    for (size_t i = 0; i < p.graph().node(node).inputs.size(); ++i)
      out.insert(out.end(), p.in(node, i).begin(), p.in(node, i).end());
    return out;
  }

  bool counts_memory() const override { return true; }
  bool cost_reads_output() const override { return true; }
};

}  // namespace

const OpHandler& concat_handler() {
  static const ConcatHandler h;
  return h;
}

}  // namespace mt::morph
