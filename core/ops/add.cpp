#include "core/ops/add.h"

namespace mt {

std::vector<Shape> AddOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == 2, ShapeError, "[add] expects 2 inputs, got ", in.size());
  MT_CHECK(in[0] == in[1], ShapeError, "[add] shapes ", in[0].str(), " and ", in[1].str(), " differ");
  return {in[0]};
}

void AddOp::forward(OpContext& ctx) const { ctx.backend.add_fwd(ctx.in(0), ctx.in(1), ctx.out(0)); }

void AddOp::backward(OpContext& ctx) const {
  for (size_t i = 0; i < 2; ++i)
    if (ctx.wants_dinput(i)) ctx.backend.copy(ctx.dout(0), ctx.din(i));
}

}  // namespace mt
