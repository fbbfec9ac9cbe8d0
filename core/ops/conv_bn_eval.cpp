#include "core/ops/conv_bn_eval.h"

#include "core/ops/batchnorm2d.h"
#include "core/ops/conv2d.h"

namespace mt {

bool is_conv_bn_pair(const Op& conv, const Op& bn) {
  return dynamic_cast<const Conv2dOp*>(&conv) && dynamic_cast<const BatchNorm2dOp*>(&bn);
}

void conv_bn_forward_eval(const Op& conv, const Op& bn, OpContext& conv_ctx, OpContext& bn_ctx) {
  const auto& c = dynamic_cast<const Conv2dOp&>(conv);
  const auto& b = dynamic_cast<const BatchNorm2dOp&>(bn);
  static const Tensor none;
  conv_ctx.backend.conv2d_bn_fwd_eval(c.desc(), conv_ctx.in(0), conv_ctx.in(1),
                                      c.has_bias() ? conv_ctx.in(2) : none, b.desc(), bn_ctx.in(1),
                                      bn_ctx.in(2), bn_ctx.in(3), bn_ctx.in(4), bn_ctx.fused_relu,
                                      bn_ctx.out(0));
}

void conv_bn_add_forward_eval(const Op& conv, const Op& bn, OpContext& conv_ctx, OpContext& bn_ctx, bool relu,
                              Tensor& sum) {
  const auto& c = dynamic_cast<const Conv2dOp&>(conv);
  const auto& b = dynamic_cast<const BatchNorm2dOp&>(bn);
  static const Tensor none;
  conv_ctx.backend.conv2d_bn_add_fwd_eval(c.desc(), conv_ctx.in(0), conv_ctx.in(1), c.has_bias() ? conv_ctx.in(2) : none,
                                          b.desc(), bn_ctx.in(1), bn_ctx.in(2), bn_ctx.in(3), bn_ctx.in(4), relu, sum);
}

}  // namespace mt
