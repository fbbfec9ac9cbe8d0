// ResRep's compactor: output channel i stands for input channel i (it is merged into its conv),
// its rows are ResRep's masks, and a masked row makes its channel exactly 0. It costs nothing:
// the merged model has no compactor.
#include "morph/constant_propagation.h"
#include "morph/handlers/handler_util.h"
#include "morph/handlers/handlers.h"

namespace mt::morph {

namespace {

class CompactorHandler final : public OpHandler {
 public:
  Atoms group(ChannelWalk& walk, int node) const override {
    return walk.atoms(walk.graph().node(node).inputs[0]);
  }
  ChannelRole role(const ChannelGroups&, int) const override { return ChannelRole::compactor; }

  Channels constants(const ConstantPropagation& p, int node) const override {
    const std::vector<int>& rows = p.groups().channel_groups(p.graph().node(node).outputs[0]);
    Channels out(rows.size(), kVaries);
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i] != ChannelGroups::kNone && p.masked(rows[i])) out[i] = 0;
    return out;
  }
  // NB: no placement. The reshaper never sees a compactor (the merge strips them first), and its
  // default plan (a weight: keep the channels) refuses one that is left in a model.
};

}  // namespace

const OpHandler& compactor_handler() {
  static const CompactorHandler h;
  return h;
}

}  // namespace mt::morph
