#pragma once
#include "core/op.h"

namespace mt {

// The FiGS logistic-sigmoid gate (arXiv 2006.09581; morph-net's LogisticSigmoidGating). Inputs:
// x [N, C, H, W] or [N, C], logits [C] (the log odds of each channel being on). y = x * g with
// one g per channel: in training a relaxed Bernoulli sample, g = sigmoid((logits + logistic
// noise) / temperature), the noise drawn per channel from the step's seed and shared by the whole
// batch; in evaluation sigmoid(logits) where logits > 0, else 0 (gate_value in core/backend.h).
// A following ReLU can run inside it. keep_first_channel: channel 0 is always open (GateDesc).
class GateOp : public Op {
 public:
  explicit GateOp(double temperature = 0.001, bool keep_first_channel = false);
  OpKind kind() const override { return OpKind::gate; }
  InputRole input_role(size_t i) const override { return i == 1 ? InputRole::logits : InputRole::data; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override;
  void backward(OpContext& ctx) const override;
  bool fuses_relu() const override { return true; }
  // The mask of a fused ReLU is recomputed from x and the gates.
  bool backward_reads_output(size_t, bool) const override { return false; }
  nlohmann::json attributes() const override {
    return {{"temperature", temperature_}, {"keep_first_channel_alive", keep_first_channel_}};
  }
  double temperature() const { return temperature_; }
  bool keep_first_channel() const { return keep_first_channel_; }
  // The gate of a training step whose node seed is `seed` (Executor::node_seed), or of evaluation.
  GateDesc desc(bool train, uint64_t seed = 0) const;

 private:
  GateDesc desc(const OpContext& ctx) const;

  double temperature_;
  bool keep_first_channel_;
};

}  // namespace mt
