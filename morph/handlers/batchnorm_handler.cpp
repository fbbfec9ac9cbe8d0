// batchnorm2d: keeps its input's channels; its scales are Gamma's sources, and in eval mode it
// maps a constant channel to beta + (c - mean) x gamma / sqrt(var + eps).
#include <cmath>

#include "core/ops/batchnorm2d.h"
#include "morph/constant_propagation.h"
#include "morph/handlers/handler_util.h"
#include "morph/handlers/handlers.h"
#include "morph/reshape_planner.h"

namespace mt::morph {

namespace {

class BatchNormHandler final : public PassThroughHandler {
 public:
  ChannelRole role(const ChannelGroups&, int) const override { return ChannelRole::batchnorm; }
  bool reports_alive() const override { return true; }

  Channels constants(const ConstantPropagation& p, int node) const override {
    const Graph& g = p.graph();
    const double eps = dynamic_cast<const BatchNorm2dOp&>(*g.node(node).op).desc().eps;
    const HostView gamma = p.param(required_input(g, node, InputRole::weight));
    const HostView beta = p.param(required_input(g, node, InputRole::bias));
    const HostView mean = p.param(required_input(g, node, InputRole::running_mean));
    const HostView var = p.param(required_input(g, node, InputRole::running_var));
    Channels out = p.in(node);
    for (size_t c = 0; c < out.size(); ++c)
      out[c] = (out[c] - mean[c]) / std::sqrt(var[c] + eps) * gamma[c] + beta[c];
    return out;
  }

  // Scale and shift restart at 1 and 0, the statistics at a fresh layer's, the counter at 0.
  void plan_reshape(ReshapePlanner& r, int node) const override {
    const Graph& g = r.graph();
    const Slots& x = r.slots(g.node(node).inputs[0]);
    r.plan_param(required_input(g, node, InputRole::weight), {ParamInit::ones, &x});
    r.plan_param(required_input(g, node, InputRole::bias), {ParamInit::zeros, &x});
    r.plan_param(required_input(g, node, InputRole::running_mean), {ParamInit::zeros, &x});
    r.plan_param(required_input(g, node, InputRole::running_var), {ParamInit::ones, &x});
    r.plan_param(required_input(g, node, InputRole::num_batches_tracked), {ParamInit::zeros});
  }

  bool counts_memory() const override { return true; }
};

}  // namespace

const OpHandler& batchnorm_handler() {
  static const BatchNormHandler h;
  return h;
}

}  // namespace mt::morph
