// Ops whose channels morph does not trace (the loss, which lies past the output boundary): every
// channel they read or write is pinned, so the layers around them are excluded from pruning.
#include "morph/handlers/handler_util.h"
#include "morph/handlers/handlers.h"

namespace mt::morph {

namespace {

class BoundaryHandler final : public OpHandler {
 public:
  Atoms group(ChannelWalk& walk, int node) const override {
    const Node& n = walk.graph().node(node);
    for (ValueId v : n.inputs)
      if (is_activation_value(walk.graph(), v)) walk.pin(walk.atoms(v));
    return walk.fresh(walk.channels(n.outputs[0]), true);
  }
};

}  // namespace

const OpHandler& boundary_handler() {
  static const BoundaryHandler h;
  return h;
}

}  // namespace mt::morph
