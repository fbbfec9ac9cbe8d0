#pragma once
#include "core/op.h"

namespace mt {

// Inputs: logits [N, K], labels [N] (i64). Output: the mean loss, a scalar [].
class SoftmaxCrossEntropyOp : public Op {
 public:
  explicit SoftmaxCrossEntropyOp(double label_smoothing = 0);
  OpKind kind() const override { return OpKind::softmax_cross_entropy; }
  InputRole input_role(size_t i) const override { return i == 1 ? InputRole::labels : InputRole::data; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override;
  void backward(OpContext& ctx) const override;
  bool differentiable_input(int i) const override { return i == 0; }
  // The probabilities live in the node's state; the labels are read.
  bool backward_reads_input(size_t i) const override { return i == 1; }
  bool backward_reads_output(size_t, bool) const override { return false; }
  bool activation_output() const override { return false; }
  nlohmann::json attributes() const override { return {{"label_smoothing", label_smoothing_}}; }

 private:
  double label_smoothing_;
};

}  // namespace mt
