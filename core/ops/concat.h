#pragma once
#include "core/op.h"

namespace mt {

// Channel concatenation of [N, Ci, H, W] inputs.
class ConcatOp : public Op {
 public:
  OpKind kind() const override { return OpKind::concat; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override;
  void backward(OpContext& ctx) const override;
  bool backward_reads_input(size_t) const override { return false; }
  bool backward_reads_output(size_t, bool) const override { return false; }
};

}  // namespace mt
