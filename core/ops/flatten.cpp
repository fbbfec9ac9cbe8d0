#include "core/ops/flatten.h"

namespace mt {

std::vector<Shape> FlattenOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == 1 && in[0].rank() >= 2, ShapeError,
           "[flatten] expects one input of rank >= 2");
  return {Shape{in[0][0], in[0].numel() / std::max<int64_t>(in[0][0], 1)}};
}

void FlattenOp::forward(OpContext& ctx) const {
  // The output is row-major, so viewing it with the input's logical shape and copying performs
  // the layout change (nhwc -> nchw order) and the flatten at once.
  Tensor y = ctx.out(0).reshape(ctx.in(0).shape());
  ctx.backend.copy(ctx.in(0), y);
}

void FlattenOp::backward(OpContext& ctx) const {
  const Tensor dy = ctx.dout(0).reshape(ctx.din(0).shape());
  ctx.backend.copy(dy, ctx.din(0));
}

}  // namespace mt
