// linear: its outputs are new atoms (the logits' are pinned: the classes stay); its weight
// loses the columns of removed input features and the rows of removed outputs.
#include <cmath>

#include "core/ops/linear.h"
#include "morph/cost_model.h"
#include "morph/handlers/handlers.h"
#include "morph/reshape_planner.h"

namespace mt::morph {

namespace {

class LinearHandler final : public OpHandler {
 public:
  Atoms group(ChannelWalk& walk, int node) const override {
    const ValueId y = walk.graph().node(node).outputs[0];
    return walk.fresh(walk.channels(y), y == walk.logits());
  }
  ChannelRole role(const ChannelGroups&, int) const override { return ChannelRole::filters; }
  bool reports_alive() const override { return true; }

  void plan_reshape(ReshapePlanner& r, int node) const override {
    const Node& n = r.graph().node(node);
    const Slots& in = r.slots(n.inputs[0]);
    const Slots& out = r.slots(n.outputs[0]);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in.size()));
    r.plan_param(n.inputs[1], {ParamInit::uniform, &out, &in, bound});
    if (n.inputs.size() > 2) r.plan_param(n.inputs[2], {ParamInit::uniform, &out, nullptr, bound});
  }

  bool counts_compute() const override { return true; }
  bool counts_memory() const override { return true; }
  void weight_coeffs(const ChannelGroups& groups, CostOp& op) const override {
    const Graph& g = groups.graph();
    const Node& n = g.node(op.node);
    op.flop_coeff = 2;
    op.weight_coeff = 1;
    op.has_bias = dynamic_cast<const LinearOp&>(*n.op).has_bias();
    op.weight_bytes = op.weight_coeff * static_cast<double>(dtype_size(g.value(n.inputs[1]).dtype));
  }
};

}  // namespace

const OpHandler& linear_handler() {
  static const LinearHandler h;
  return h;
}

}  // namespace mt::morph
