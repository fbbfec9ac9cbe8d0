#pragma once
// relu6, hardsigmoid, hardswish: MobileNetV2's and V3's activations (ONNX Clip(0, 6), HardSigmoid,
// HardSwish). One template, as the three differ only in their kind and kernels. Unlike relu and
// sigmoid, the backward reads the input: hardswish's output does not tell which piece x was on.
#include "core/ops/relu.h"

namespace mt {

template <OpKind Kind, void (KernelBackend::*Fwd)(const Tensor&, Tensor&),
          void (KernelBackend::*Bwd)(const Tensor&, const Tensor&, Tensor&)>
class HardActivationOp : public Op {
 public:
  OpKind kind() const override { return Kind; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override {
    return same_shape_as_input(kind_name(), in);
  }
  void forward(OpContext& ctx) const override { (ctx.backend.*Fwd)(ctx.in(0), ctx.out(0)); }
  void backward(OpContext& ctx) const override {
    (ctx.backend.*Bwd)(ctx.in(0), ctx.dout(0), ctx.din(0));
  }
  bool backward_reads_output(size_t, bool) const override { return false; }
};

using Relu6Op = HardActivationOp<OpKind::relu6, &KernelBackend::relu6_fwd, &KernelBackend::relu6_bwd>;
using HardSigmoidOp =
    HardActivationOp<OpKind::hardsigmoid, &KernelBackend::hardsigmoid_fwd, &KernelBackend::hardsigmoid_bwd>;
using HardSwishOp =
    HardActivationOp<OpKind::hardswish, &KernelBackend::hardswish_fwd, &KernelBackend::hardswish_bwd>;

}  // namespace mt
