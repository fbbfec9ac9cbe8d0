#pragma once
#include "core/op.h"

namespace mt {

class ReluOp : public Op {
 public:
  OpKind kind() const override { return OpKind::relu; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override { ctx.backend.relu_fwd(ctx.in(0), ctx.out(0)); }
  void backward(OpContext& ctx) const override {
    ctx.backend.relu_bwd(ctx.out(0), ctx.dout(0), ctx.din(0));
  }
  bool backward_reads_input(size_t) const override { return false; }
};

// The output shape of a one-input op that keeps its input's shape.
std::vector<Shape> same_shape_as_input(std::string_view op, const std::vector<Shape>& in);

}  // namespace mt
