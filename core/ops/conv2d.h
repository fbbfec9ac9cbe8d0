#pragma once
#include "core/op.h"

namespace mt {

// Inputs: x [N, C, H, W], weight [O, C/groups, kH, kW], optional bias [O].
class Conv2dOp : public Op {
 public:
  Conv2dOp(Conv2dDesc desc, bool bias) : desc_(desc), bias_(bias) {}
  OpKind kind() const override { return OpKind::conv2d; }
  InputRole input_role(size_t i) const override {
    return i == 0 ? InputRole::data : i == 1 ? InputRole::weight : InputRole::bias;
  }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override;
  void backward(OpContext& ctx) const override;
  bool backward_reads_output(size_t, bool) const override { return false; }
  nlohmann::json attributes() const override;
  int64_t macs(const std::vector<Shape>& in, const std::vector<Shape>& out) const override;

  const Conv2dDesc& desc() const { return desc_; }
  bool has_bias() const { return bias_; }

 private:
  Conv2dDesc desc_;
  bool bias_;
};

// Output size of a convolution or pooling window along one axis (floor mode).
int64_t conv_out_size(int64_t in, int64_t kernel, int stride, int pad, int dilation);

}  // namespace mt
