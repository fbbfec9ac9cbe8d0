// conv2d: its output channels are new atoms (groups 1); a depthwise conv keeps its input's; any
// other grouping pins both sides, as removing a channel would unbalance its groups.
#include <cmath>

#include "core/ops/conv2d.h"
#include "morph/constant_propagation.h"
#include "morph/cost_model.h"
#include "morph/handlers/handler_util.h"
#include "morph/handlers/handlers.h"
#include "morph/reshape_planner.h"

namespace mt::morph {

namespace {

class ConvHandler final : public OpHandler {
 public:
  Atoms group(ChannelWalk& walk, int node) const override {
    const Node& n = walk.graph().node(node);
    const Atoms& in = walk.atoms(n.inputs[0]);
    const int groups = dynamic_cast<const Conv2dOp&>(*n.op).desc().groups;
    const int64_t out = walk.channels(n.outputs[0]);
    if (groups == 1) return walk.fresh(out, false);
    if (groups == static_cast<int>(in.size()) && out == static_cast<int64_t>(in.size()))
      return in;  // depthwise: output channel c reads input channel c only
    walk.pin(in);
    return walk.fresh(out, true);
  }

  ChannelRole role(const ChannelGroups& groups, int node) const override {
    return is_depthwise_conv(groups.graph(), groups.shapes(), node) ? ChannelRole::none : ChannelRole::filters;
  }
  bool reports_alive() const override { return true; }

  std::optional<Placement> placement(const ChannelGroups& groups, int node, size_t i) const override {
    if (i != 0 || !is_depthwise_conv(groups.graph(), groups.shapes(), node)) return std::nullopt;
    return if_activation(groups, node, i);
  }

  // A depthwise conv maps a constant c to c x (sum of its filter) + bias, unless padding brings
  // zeros into the border windows; other convs mix channels, so their outputs vary.
  Channels constants(const ConstantPropagation& p, int node) const override {
    const Node& n = p.graph().node(node);
    Channels out = p.varying(n.outputs[0]);
    if (!is_depthwise_conv(p.graph(), p.groups().shapes(), node)) return out;
    const Conv2dDesc& d = dynamic_cast<const Conv2dOp&>(*n.op).desc();
    const bool padded = d.pad_h > 0 || d.pad_w > 0;
    const HostView w = p.param(n.inputs[1]);  // [C, 1, kH, kW]
    const int64_t taps = w.size() / static_cast<int64_t>(out.size());
    for (size_t c = 0; c < out.size(); ++c) {
      const double x = p.in(node)[c];
      if (std::isnan(x) || (padded && x != 0)) continue;
      double sum = 0;
      for (int64_t k = 0; k < taps; ++k) sum += w[static_cast<int64_t>(c) * taps + k];
      out[c] = x * sum + (n.inputs.size() > 2 ? p.param(n.inputs[2])[static_cast<int64_t>(c)] : 0.0);
    }
    return out;
  }

  void plan_reshape(ReshapePlanner& r, int node) const override {
    const Graph& g = r.graph();
    const Node& n = g.node(node);
    const auto& op = dynamic_cast<const Conv2dOp&>(*n.op);
    const Slots& in = r.slots(n.inputs[0]);
    const Slots& out = r.slots(n.outputs[0]);
    const Shape& w = g.value(n.inputs[1]).shape;  // [O, C / groups, kH, kW]
    const Slots* cols = &in;
    if (is_depthwise_conv(g, r.groups().shapes(), node)) {
      MT_CHECK(in == out, ShapeError, "[reshape] depthwise conv '", n.name, "' keeps other channels than its input");
      Conv2dDesc d = op.desc();
      d.groups = static_cast<int>(out.size());
      r.replace_op(node, std::make_shared<Conv2dOp>(d, op.has_bias()));
      cols = nullptr;
    } else if (op.desc().groups != 1) {
      r.require_unchanged(node);
      cols = nullptr;
    }
    const int64_t fan_in = (cols ? static_cast<int64_t>(in.size()) : w[1]) * w[2] * w[3];
    r.plan_param(n.inputs[1], {ParamInit::conv_weight, &out, cols});
    if (op.has_bias())
      r.plan_param(n.inputs[2], {ParamInit::uniform, &out, nullptr, 1.0 / std::sqrt(static_cast<double>(fan_in))});
  }

  bool counts_compute() const override { return true; }
  bool counts_memory() const override { return true; }
  void weight_coeffs(const ChannelGroups& groups, CostOp& op) const override {
    const Graph& g = groups.graph();
    const Node& n = g.node(op.node);
    const auto& conv = dynamic_cast<const Conv2dOp&>(*n.op);
    const Shape& w = g.value(n.inputs[1]).shape;
    const Shape& y = groups.shapes()[n.outputs[0]];
    op.depthwise = is_depthwise_conv(g, groups.shapes(), op.node);
    // Per (input, output) channel pair: kH x kW / groups, so that coeff x C_in x C_out is the
    // whole layer; a depthwise conv counts kH x kW per output channel.
    const double per_pair =
        static_cast<double>(w[2] * w[3]) / (op.depthwise ? 1.0 : static_cast<double>(conv.desc().groups));
    op.flop_coeff = 2.0 * static_cast<double>(y[2] * y[3]) * per_pair;
    op.weight_coeff = per_pair;
    op.has_bias = conv.has_bias();
    op.weight_bytes = op.weight_coeff * static_cast<double>(dtype_size(g.value(n.inputs[1]).dtype));
  }
};

}  // namespace

const OpHandler& conv_handler() {
  static const ConvHandler h;
  return h;
}

}  // namespace mt::morph
