// The FiGS gate: keeps its input's channels; its logits are LogisticSigmoid's sources and are
// sliced with them. Its eval output depends on the logits' sign, so constants are not traced.
#include "core/ops/gate.h"
#include "morph/constant_propagation.h"
#include "morph/handlers/handler_util.h"
#include "morph/handlers/handlers.h"
#include "morph/reshape_planner.h"

namespace mt::morph {

namespace {

class GateHandler final : public PassThroughHandler {
 public:
  ChannelRole role(const ChannelGroups&, int) const override { return ChannelRole::gate; }
  bool reports_alive() const override { return true; }
  void plan_reshape(ReshapePlanner& r, int node) const override {
    const Slots& x = r.slots(r.graph().node(node).inputs[0]);
    r.plan_param(r.groups().source_param(SourceKind::gate, node), {ParamInit::gate_logits, &x});
    // A gate that holds channel 0 open holds the slim channel 0 open too: where that is no
    // longer the dense channel 0 (it died by another method's verdict), the slim gate must gate
    // it by its logit as the dense one did, so it keeps no channel open.
    const auto* gate = dynamic_cast<const GateOp*>(r.graph().node(node).op.get());
    if (gate && gate->keep_first_channel() && (x.empty() || x.front() != Slot{0, 0}))
      r.replace_op(node, std::make_shared<GateOp>(gate->temperature(), false));
  }
  bool counts_memory() const override { return true; }  // MorphNet's gating Mul
};

}  // namespace

const OpHandler& gate_handler() {
  static const GateHandler h;
  return h;
}

}  // namespace mt::morph
