#include "core/ops/dropout.h"

namespace mt {

DropoutOp::DropoutOp(double p) : p_(p) {
  MT_CHECK(p >= 0 && p < 1, ShapeError, "[dropout] p = ", p, " must be in [0, 1)");
}

std::vector<Shape> DropoutOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == 1, ShapeError, "[dropout] expects 1 input, got ", in.size());
  return {in[0]};
}

void DropoutOp::forward(OpContext& ctx) const {
  if (ctx.mode == Mode::eval || p_ == 0) {
    ctx.backend.copy(ctx.in(0), ctx.out(0));
    return;
  }
  ctx.backend.dropout_fwd(p_, ctx.seed, ctx.in(0), ctx.out(0), ctx.state_at(0));
}

void DropoutOp::backward(OpContext& ctx) const {
  if (ctx.mode == Mode::eval || p_ == 0) {
    ctx.backend.copy(ctx.dout(0), ctx.din(0));
    return;
  }
  ctx.backend.dropout_bwd(p_, ctx.state_at(0), ctx.dout(0), ctx.din(0));
}

}  // namespace mt
