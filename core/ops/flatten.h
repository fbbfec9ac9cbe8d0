#pragma once
#include "core/op.h"

namespace mt {

// [N, C, H, W] (any layout) -> [N, C*H*W] in PyTorch's order (C, then H, then W).
class FlattenOp : public Op {
 public:
  OpKind kind() const override { return OpKind::flatten; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override;
  void backward(OpContext& ctx) const override;
  bool backward_reads_input(size_t) const override { return false; }
  bool backward_reads_output(size_t, bool) const override { return false; }
  bool activation_output() const override { return false; }
};

}  // namespace mt
