// add and mul: element-wise over two inputs of the same channels. A residual add ties its inputs
// channel by channel; so does a mul of two activations (channel attention), while a mul by a
// parameter (a fixed gate, a learned per-channel scale) keeps its first input's channels.
#include "morph/constant_propagation.h"
#include "morph/handlers/handler_util.h"
#include "morph/handlers/handlers.h"
#include "morph/reshape_planner.h"

namespace mt::morph {

namespace {

class ElementwiseHandler : public OpHandler {
 public:
  std::optional<Placement> placement(const ChannelGroups& groups, int node, size_t i) const override {
    return if_activation(groups, node, i);
  }
  bool counts_memory() const override { return true; }

 protected:
  // Both inputs activations: combine(a, b) per channel; otherwise nullopt.
  template <typename Combine>
  static std::optional<Channels> of_activations(const ConstantPropagation& p, int node, Combine combine) {
    const ValueId b = p.graph().node(node).inputs[1];
    if (!is_activation_value(p.graph(), b)) return std::nullopt;
    const Channels& a = p.in(node);
    Channels out(a.size());
    for (size_t c = 0; c < a.size(); ++c) out[c] = combine(a[c], p.of(b)[c]);
    return out;
  }
};

class AddHandler final : public ElementwiseHandler {
 public:
  Atoms group(ChannelWalk& walk, int node) const override {
    const Node& n = walk.graph().node(node);
    return walk.tie(walk.atoms(n.inputs[0]), walk.atoms(n.inputs[1]));
  }
  Channels constants(const ConstantPropagation& p, int node) const override {
    auto out = of_activations(p, node, [](double a, double b) { return a + b; });
    return out ? *out : Channels(p.in(node).size(), kVaries);
  }
};

class MulHandler final : public ElementwiseHandler {
 public:
  Atoms group(ChannelWalk& walk, int node) const override {
    const Node& n = walk.graph().node(node);
    const ValueId a = n.inputs[0], b = n.inputs[1];
    if (!is_activation_value(walk.graph(), b)) return walk.atoms(a);
    return walk.tie(walk.atoms(a), walk.atoms(b));
  }

  Channels constants(const ConstantPropagation& p, int node) const override {
    if (auto out = of_activations(p, node, [](double a, double b) { return a * b; })) return *out;
    const Channels& a = p.in(node);
    Channels out(a.size(), kVaries);
    const ValueId b = p.graph().node(node).inputs[1];
    if (p.graph().value(b).shape == Shape{static_cast<int64_t>(a.size())}) {
      const HostView s = p.param(b);
      for (size_t c = 0; c < a.size(); ++c) out[c] = a[c] * s[static_cast<int64_t>(c)];
    }
    return out;
  }

  // A per-channel parameter scale is sliced with the channels; any other parameter operand
  // (a broadcast scalar, a full map) cannot follow them.
  void plan_reshape(ReshapePlanner& r, int node) const override {
    const Graph& g = r.graph();
    const Node& n = g.node(node);
    if (is_activation_value(g, n.inputs[1])) return;
    if (g.value(n.inputs[1]).shape == Shape{r.groups().shapes()[n.inputs[0]][1]})
      return r.plan_param(n.inputs[1], {ParamInit::ones, &r.slots(n.inputs[0])});
    r.require_unchanged(node);
  }
};

}  // namespace

const OpHandler& add_handler() {
  static const AddHandler h;
  return h;
}
const OpHandler& mul_handler() {
  static const MulHandler h;
  return h;
}

}  // namespace mt::morph
