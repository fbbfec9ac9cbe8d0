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
};

}  // namespace mt
