#pragma once
#include "core/op.h"

namespace mt {

// y = a + b, both of one shape (the residual add).
class AddOp : public Op {
 public:
  OpKind kind() const override { return OpKind::add; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override;
  void backward(OpContext& ctx) const override;
  bool fuses_relu() const override { return true; }
  bool backward_reads_input(size_t) const override { return false; }
  bool backward_reads_output(size_t, bool fused_relu) const override { return fused_relu; }  // the mask
};

}  // namespace mt
