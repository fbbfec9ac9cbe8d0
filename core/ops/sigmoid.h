#pragma once
#include "core/ops/relu.h"

namespace mt {

class SigmoidOp : public Op {
 public:
  OpKind kind() const override { return OpKind::sigmoid; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override {
    return same_shape_as_input(kind_name(), in);
  }
  void forward(OpContext& ctx) const override { ctx.backend.sigmoid_fwd(ctx.in(0), ctx.out(0)); }
  void backward(OpContext& ctx) const override {
    ctx.backend.sigmoid_bwd(ctx.out(0), ctx.dout(0), ctx.din(0));
  }
  bool backward_reads_input(size_t) const override { return false; }
};

}  // namespace mt
