#pragma once
#include "core/op.h"

namespace mt {

// y = a * b where b has a's shape or is per channel ([C], [N, C] or [N, C, 1, 1] over a
// [N, C, H, W]): the gating product of FiGS and of channel attention (squeeze-excitation).
class MulOp : public Op {
 public:
  OpKind kind() const override { return OpKind::mul; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override { ctx.backend.mul_fwd(ctx.in(0), ctx.in(1), ctx.out(0)); }
  void backward(OpContext& ctx) const override;
  bool backward_reads_output(size_t, bool) const override { return false; }
};

}  // namespace mt
