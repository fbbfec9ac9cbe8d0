#pragma once
#include "core/op.h"

namespace mt {

// Inputs: x [N, K], weight [M, K], optional bias [M]. y = x W^T + b.
class LinearOp : public Op {
 public:
  explicit LinearOp(bool bias) : bias_(bias) {}
  OpKind kind() const override { return OpKind::linear; }
  InputRole input_role(size_t i) const override {
    return i == 0 ? InputRole::data : i == 1 ? InputRole::weight : InputRole::bias;
  }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override;
  void backward(OpContext& ctx) const override;
  bool backward_reads_output(size_t, bool) const override { return false; }
  bool activation_output() const override { return false; }
  nlohmann::json attributes() const override { return {{"bias", bias_}}; }
  int64_t macs(const std::vector<Shape>& in, const std::vector<Shape>& out) const override {
    return out[0].numel() * in[1][1];
  }
  bool has_bias() const { return bias_; }

 private:
  bool bias_;
};

}  // namespace mt
