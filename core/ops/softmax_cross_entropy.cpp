#include "core/ops/softmax_cross_entropy.h"

namespace mt {

SoftmaxCrossEntropyOp::SoftmaxCrossEntropyOp(double label_smoothing)
    : label_smoothing_(label_smoothing) {
  MT_CHECK(label_smoothing >= 0 && label_smoothing <= 1, ShapeError,
           "[softmax_cross_entropy] label_smoothing = ", label_smoothing, " must be in [0, 1]");
}

std::vector<Shape> SoftmaxCrossEntropyOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == 2, ShapeError, "[softmax_cross_entropy] expects logits and labels");
  MT_CHECK(in[0].rank() == 2 && in[1].rank() == 1 && in[1][0] == in[0][0], ShapeError,
           "[softmax_cross_entropy] logits ", in[0].str(), " and labels ", in[1].str(),
           " must be [N, K] and [N]");
  return {Shape{}};
}

void SoftmaxCrossEntropyOp::forward(OpContext& ctx) const {
  Tensor& probs = ctx.state_at(0);
  const Tensor& logits = ctx.in(0);
  if (!probs.defined() || probs.shape() != logits.shape() || probs.dtype() != logits.dtype())
    probs = Tensor::empty(logits.shape(), logits.dtype(), Layout::nchw, ctx.backend.device());
  ctx.backend.softmax_xent_fwd(label_smoothing_, logits, ctx.in(1), ctx.out(0), probs);
}

void SoftmaxCrossEntropyOp::backward(OpContext& ctx) const {
  ctx.backend.softmax_xent_bwd(label_smoothing_, ctx.state_at(0), ctx.in(1), ctx.dout(0), ctx.din(0));
}

}  // namespace mt
