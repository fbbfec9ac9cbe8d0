// flatten: each channel becomes its H x W features, in PyTorch's (C, H, W) order, so a linear
// after it sees which channel each of its inputs comes from.
#include "morph/constant_propagation.h"
#include "morph/handlers/handler_util.h"
#include "morph/handlers/handlers.h"

namespace mt::morph {

namespace {

// Features per channel of a [1, C, H, W] value (1 when it is already flat).
int64_t per_channel(const Shape& s) { return s.rank() <= 2 ? 1 : s.numel() / (s[0] * s[1]); }

template <typename T>
std::vector<T> repeated(const std::vector<T>& in, int64_t times) {
  std::vector<T> out;
  out.reserve(in.size() * static_cast<size_t>(times));
  for (const T& x : in) out.insert(out.end(), static_cast<size_t>(times), x);
  return out;
}

class FlattenHandler final : public OpHandler {
 public:
  Atoms group(ChannelWalk& walk, int node) const override {
    const ValueId x = walk.graph().node(node).inputs[0];
    return repeated(walk.atoms(x), per_channel(walk.shape(x)));
  }
  std::optional<Placement> placement(const ChannelGroups& groups, int node, size_t i) const override {
    const ValueId x = groups.graph().node(node).inputs[i];
    return if_activation(groups, node, i, Placement{0, per_channel(groups.shapes()[x])});
  }
  // With new copies (width expansion) a flatten lays each copy's features out together.
  bool slots_follow_groups() const override { return false; }
  Channels constants(const ConstantPropagation& p, int node) const override {
    const ValueId x = p.graph().node(node).inputs[0];
    return repeated(p.of(x), per_channel(p.groups().shapes()[x]));
  }
};

}  // namespace

const OpHandler& flatten_handler() {
  static const FlattenHandler h;
  return h;
}

}  // namespace mt::morph
