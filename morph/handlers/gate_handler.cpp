// The FiGS gate: keeps its input's channels; its logits are LogisticSigmoid's sources and are
// sliced with them. Its eval output depends on the logits' sign, so constants are not traced.
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
  }
  bool counts_memory() const override { return true; }  // MorphNet's gating Mul
};

}  // namespace

const OpHandler& gate_handler() {
  static const GateHandler h;
  return h;
}

}  // namespace mt::morph
