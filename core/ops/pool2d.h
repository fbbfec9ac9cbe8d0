#pragma once
#include "core/op.h"

namespace mt {

// Output size of a pooling window along one axis, with PyTorch's ceil_mode rule (the last window
// must start inside the input or its left padding).
int64_t pool_out_size(int64_t in, int kernel, int stride, int pad, bool ceil_mode);
Shape pool_output_shape(std::string_view op, const Pool2dDesc& d, const Shape& x);
nlohmann::json pool_attributes(const Pool2dDesc& d);

class MaxPool2dOp : public Op {
 public:
  explicit MaxPool2dOp(Pool2dDesc desc) : desc_(desc) {}
  OpKind kind() const override { return OpKind::maxpool2d; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override;
  void backward(OpContext& ctx) const override;
  bool backward_reads_output(size_t, bool) const override { return false; }
  nlohmann::json attributes() const override { return pool_attributes(desc_); }
  const Pool2dDesc& desc() const { return desc_; }

 private:
  Pool2dDesc desc_;
};

class AvgPool2dOp : public Op {
 public:
  explicit AvgPool2dOp(Pool2dDesc desc) : desc_(desc) {}
  OpKind kind() const override { return OpKind::avgpool2d; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override { ctx.backend.avgpool_fwd(desc_, ctx.in(0), ctx.out(0)); }
  void backward(OpContext& ctx) const override {
    ctx.backend.avgpool_bwd(desc_, ctx.dout(0), ctx.din(0));
  }
  bool backward_reads_input(size_t) const override { return false; }
  bool backward_reads_output(size_t, bool) const override { return false; }
  nlohmann::json attributes() const override { return pool_attributes(desc_); }
  const Pool2dDesc& desc() const { return desc_; }

 private:
  Pool2dDesc desc_;
};

// [N, C, H, W] -> [N, C, 1, 1], as PyTorch's AdaptiveAvgPool2d(1).
class GlobalAvgPool2dOp : public Op {
 public:
  OpKind kind() const override { return OpKind::global_avgpool2d; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override;
  void backward(OpContext& ctx) const override;
  bool backward_reads_input(size_t) const override { return false; }
  bool backward_reads_output(size_t, bool) const override { return false; }
  // [N, C, 1, 1] is the same memory in nchw and nhwc; keep it row-major for the flatten after.
  bool activation_output() const override { return false; }
};

}  // namespace mt
