#pragma once
#include "core/op.h"

namespace mt {

// Channel concatenation of [N, Ci, H, W] inputs.
class ConcatOp : public Op {
 public:
  std::string_view kind() const override { return "concat"; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override;
  void backward(OpContext& ctx) const override;
};

}  // namespace mt
