// The defaults of OpHandler: what an op with no rule of its own does in each pass.
#include "morph/handlers/op_handler.h"

#include "morph/constant_propagation.h"
#include "morph/handlers/handler_util.h"
#include "morph/reshape_planner.h"

namespace mt::morph {

// One-to-one ops: every positional input must list the same channels.
Slots OpHandler::moved_slots(const ChannelGroups& groups, const ChannelPlan& plan, int node,
                             const ChannelSelection&) const {
  const Node& n = groups.graph().node(node);
  Slots out = shifted_slots(plan.slots[n.inputs[0]], *placement(groups, node, 0));
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    if (!placement(groups, node, i)) continue;
    MT_CHECK(plan.slots[n.inputs[i]] == out, ShapeError, "[reshape] the inputs of '", n.name,
             "' would keep different channels");
  }
  return out;
}

std::vector<double> OpHandler::constants(const ConstantPropagation& p, int node) const {
  return p.varying(p.graph().node(node).outputs[0]);
}

void OpHandler::plan_reshape(ReshapePlanner& r, int node) const {
  for (ValueId v : r.graph().node(node).inputs)
    if (!is_activation_value(r.graph(), v)) return r.require_unchanged(node);
}

}  // namespace mt::morph
