#pragma once
#include "core/op.h"

namespace mt {

// Inverted dropout in training (kept elements scaled by 1/(1-p)); the identity in evaluation.
class DropoutOp : public Op {
 public:
  explicit DropoutOp(double p);
  OpKind kind() const override { return OpKind::dropout; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override;
  void backward(OpContext& ctx) const override;
  // The mask lives in the node's state.
  bool backward_reads_input(size_t) const override { return false; }
  bool backward_reads_output(size_t, bool) const override { return false; }
  nlohmann::json attributes() const override { return {{"p", p_}}; }
  double p() const { return p_; }

 private:
  double p_;
};

}  // namespace mt
