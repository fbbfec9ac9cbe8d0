#include "core/ops/pool2d.h"

namespace mt {

int64_t pool_out_size(int64_t in, int kernel, int stride, int pad, bool ceil_mode) {
  const int64_t span = in + 2 * pad - kernel;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

Shape pool_output_shape(std::string_view op, const Pool2dDesc& d, const Shape& x) {
  MT_CHECK(x.rank() == 4, ShapeError, "[", op, "] x ", x.str(), " must be rank 4");
  MT_CHECK(d.kernel_h > 0 && d.kernel_w > 0 && d.stride_h > 0 && d.stride_w > 0, ShapeError, "[",
           op, "] kernel and stride must be positive");
  MT_CHECK(2 * d.pad_h <= d.kernel_h && 2 * d.pad_w <= d.kernel_w, ShapeError, "[", op,
           "] padding must be at most half the kernel (PyTorch's rule)");
  const int64_t oh = pool_out_size(x[2], d.kernel_h, d.stride_h, d.pad_h, d.ceil_mode);
  const int64_t ow = pool_out_size(x[3], d.kernel_w, d.stride_w, d.pad_w, d.ceil_mode);
  MT_CHECK(oh > 0 && ow > 0, ShapeError, "[", op, "] input ", x.str(), " too small for kernel ",
           d.kernel_h, "x", d.kernel_w);
  return Shape{x[0], x[1], oh, ow};
}

nlohmann::json pool_attributes(const Pool2dDesc& d) {
  return {{"kernel", {d.kernel_h, d.kernel_w}}, {"stride", {d.stride_h, d.stride_w}},
          {"padding", {d.pad_h, d.pad_w}},      {"ceil_mode", d.ceil_mode},
          {"count_include_pad", d.count_include_pad}};
}

std::vector<Shape> MaxPool2dOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == 1, ShapeError, "[maxpool2d] expects 1 input, got ", in.size());
  return {pool_output_shape(kind_name(), desc_, in[0])};
}

void MaxPool2dOp::forward(OpContext& ctx) const {
  ctx.backend.maxpool_fwd(desc_, ctx.in(0), ctx.out(0), ctx.state_at(0));
}

void MaxPool2dOp::backward(OpContext& ctx) const {
  ctx.backend.maxpool_bwd(desc_, ctx.in(0), ctx.dout(0), ctx.state_at(0), ctx.din(0));
}

std::vector<Shape> AvgPool2dOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == 1, ShapeError, "[avgpool2d] expects 1 input, got ", in.size());
  return {pool_output_shape(kind_name(), desc_, in[0])};
}

std::vector<Shape> GlobalAvgPool2dOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == 1 && in[0].rank() == 4, ShapeError,
           "[global_avgpool2d] expects one rank-4 input");
  return {Shape{in[0][0], in[0][1], 1, 1}};
}

void GlobalAvgPool2dOp::forward(OpContext& ctx) const {
  Tensor y = ctx.out(0).reshape({ctx.out(0).dim(0), ctx.out(0).dim(1)});
  ctx.backend.global_avgpool_fwd(ctx.in(0), y);
}

void GlobalAvgPool2dOp::backward(OpContext& ctx) const {
  const Tensor dy = ctx.dout(0).reshape({ctx.dout(0).dim(0), ctx.dout(0).dim(1)});
  ctx.backend.global_avgpool_bwd(dy, ctx.din(0));
}

}  // namespace mt
