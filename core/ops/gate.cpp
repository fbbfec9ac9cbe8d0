#include "core/ops/gate.h"

#include <cmath>

namespace mt {

// State slot of the node: the [2, C] gates and their derivatives the forward used.
enum { kGates = 0 };

GateOp::GateOp(double temperature, bool keep_first_channel)
    : temperature_(temperature), keep_first_channel_(keep_first_channel) {
  MT_CHECK(std::isfinite(temperature) && temperature > 0, ShapeError, "[gate] temperature ",
           temperature, " must be > 0");
}

std::vector<Shape> GateOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == 2, ShapeError, "[gate] expects 2 inputs (x, logits), got ", in.size());
  const Shape& x = in[0];
  MT_CHECK(x.rank() == 4 || x.rank() == 2, ShapeError, "[gate] x ", x.str(),
           " must be [N, C, H, W] or [N, C]");
  MT_CHECK(in[1] == Shape{x[1]}, ShapeError, "[gate] logits ", in[1].str(), " for x ", x.str(),
           ": expected [", x[1], "]");
  return {x};
}

GateDesc GateOp::desc(bool train, uint64_t seed) const {
  GateDesc d;
  d.temperature = temperature_;
  d.train = train;
  d.seed = seed;
  d.keep_first_channel = keep_first_channel_;
  return d;
}

GateDesc GateOp::desc(const OpContext& ctx) const {
  GateDesc d = desc(ctx.mode == Mode::train, ctx.seed);
  d.relu = ctx.fused_relu;
  return d;
}

void GateOp::forward(OpContext& ctx) const {
  ctx.backend.gate_fwd(desc(ctx), ctx.in(0), ctx.in(1), ctx.out(0), ctx.state_at(kGates));
}

void GateOp::backward(OpContext& ctx) const {
  Tensor none0, none1;
  ctx.backend.gate_bwd(desc(ctx), ctx.in(0), ctx.dout(0), ctx.state_at(kGates),
                       ctx.wants_dinput(0) ? ctx.din(0) : none0,
                       ctx.wants_dinput(1) ? ctx.din(1) : none1);
}

}  // namespace mt
