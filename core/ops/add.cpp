#include "core/ops/add.h"

namespace mt {

std::vector<Shape> AddOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == 2, ShapeError, "[add] expects 2 inputs, got ", in.size());
  MT_CHECK(in[0] == in[1], ShapeError, "[add] shapes ", in[0].str(), " and ", in[1].str(), " differ");
  return {in[0]};
}

void AddOp::forward(OpContext& ctx) const {
  if (ctx.fused_relu)
    ctx.backend.add_relu_fwd(ctx.in(0), ctx.in(1), ctx.out(0));
  else
    ctx.backend.add_fwd(ctx.in(0), ctx.in(1), ctx.out(0));
}

void AddOp::backward(OpContext& ctx) const {
  if (ctx.fused_relu) {
    Tensor none0, none1;
    ctx.backend.add_relu_bwd(ctx.out(0), ctx.dout(0), ctx.wants_dinput(0) ? ctx.din(0) : none0,
                             ctx.wants_dinput(1) ? ctx.din(1) : none1);
    return;
  }
  for (size_t i = 0; i < 2; ++i)
    if (ctx.wants_dinput(i)) ctx.backend.copy(ctx.dout(0), ctx.din(i));
}

}  // namespace mt
