#pragma once
// Inference of a convolution whose only reader is a batch norm: one backend call with the batch
// norm folded into the convolution (and the batch norm's fused ReLU, if any). The executor picks
// such pairs; in training they run as two ops, as the statistics must come from the batch.
#include "core/op.h"

namespace mt {

// Whether a conv node's op and its reader's op form a pair that conv_bn_forward_eval can run.
bool is_conv_bn_pair(const Op& conv, const Op& bn);

// conv_ctx: the conv node's context; bn_ctx: the batch norm node's (its output is written).
void conv_bn_forward_eval(const Op& conv, const Op& bn, OpContext& conv_ctx, OpContext& bn_ctx);

// The same with the residual add that reads the batch norm's output: `sum` holds the add's other
// input on entry and its output (after a ReLU where `relu`) on return.
void conv_bn_add_forward_eval(const Op& conv, const Op& bn, OpContext& conv_ctx, OpContext& bn_ctx, bool relu,
                              Tensor& sum);

}  // namespace mt
