#include "core/ops/linear.h"

namespace mt {

std::vector<Shape> LinearOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == (bias_ ? 3u : 2u), ShapeError, "[linear] expects ", bias_ ? 3 : 2,
           " inputs, got ", in.size());
  MT_CHECK(in[0].rank() == 2 && in[1].rank() == 2, ShapeError, "[linear] x ", in[0].str(),
           " and weight ", in[1].str(), " must be rank 2 (flatten first)");
  MT_CHECK(in[0][1] == in[1][1], ShapeError, "[linear] x has ", in[0][1],
           " features, weight ", in[1].str(), " expects ", in[1][1]);
  if (bias_) MT_CHECK(in[2] == Shape{in[1][0]}, ShapeError, "[linear] bias ", in[2].str(),
                      " for ", in[1][0], " outputs");
  return {Shape{in[0][0], in[1][0]}};
}

void LinearOp::forward(OpContext& ctx) const {
  static const Tensor none;
  ctx.backend.linear_fwd(ctx.in(0), ctx.in(1), bias_ ? ctx.in(2) : none, ctx.out(0));
}

void LinearOp::backward(OpContext& ctx) const {
  if (ctx.wants_dinput(0)) ctx.backend.linear_bwd_data(ctx.dout(0), ctx.in(1), ctx.din(0));
  if (ctx.wants_dinput(1)) {
    Tensor none;
    ctx.backend.linear_bwd_weights(ctx.in(0), ctx.dout(0), ctx.din(1),
                                   bias_ && ctx.wants_dinput(2) ? ctx.din(2) : none);
  }
}

}  // namespace mt
