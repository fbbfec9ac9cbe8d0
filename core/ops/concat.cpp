#include "core/ops/concat.h"

namespace mt {

std::vector<Shape> ConcatOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(!in.empty(), ShapeError, "[concat] needs at least one input");
  Shape out = in[0];
  MT_CHECK(out.rank() == 4, ShapeError, "[concat] inputs must be rank 4, got ", out.str());
  for (size_t i = 1; i < in.size(); ++i) {
    MT_CHECK(in[i].rank() == 4 && in[i][0] == out[0] && in[i][2] == out[2] && in[i][3] == out[3],
             ShapeError, "[concat] input ", i, " ", in[i].str(), " does not match ", in[0].str(),
             " outside the channel axis");
    out[1] += in[i][1];
  }
  return {out};
}

void ConcatOp::forward(OpContext& ctx) const {
  ctx.backend.concat_fwd(ctx.inputs, ctx.out(0));
}

void ConcatOp::backward(OpContext& ctx) const {
  std::vector<int64_t> channels;
  for (const Tensor* x : ctx.inputs) channels.push_back(x->dim(1));
  ctx.backend.concat_bwd(ctx.dout(0), channels, ctx.dinputs);
}

}  // namespace mt
