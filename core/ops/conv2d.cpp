#include "core/ops/conv2d.h"

namespace mt {

int64_t conv_out_size(int64_t in, int64_t kernel, int stride, int pad, int dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

std::vector<Shape> Conv2dOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == (bias_ ? 3u : 2u), ShapeError, "[conv2d] expects ", bias_ ? 3 : 2,
           " inputs, got ", in.size());
  const Shape& x = in[0];
  const Shape& w = in[1];
  MT_CHECK(x.rank() == 4 && w.rank() == 4, ShapeError, "[conv2d] x ", x.str(), " and weight ",
           w.str(), " must be rank 4");
  const int g = desc_.groups;
  MT_CHECK(g >= 1 && x[1] % g == 0 && w[0] % g == 0, ShapeError, "[conv2d] groups ", g,
           " must divide input channels ", x[1], " and output channels ", w[0]);
  MT_CHECK(w[1] * g == x[1], ShapeError, "[conv2d] input channels ", x[1], " != weight ", w.str(),
           " in-channels x groups ", g);
  MT_CHECK(desc_.stride_h > 0 && desc_.stride_w > 0 && desc_.dilation_h > 0 && desc_.dilation_w > 0 &&
               desc_.pad_h >= 0 && desc_.pad_w >= 0,
           ShapeError, "[conv2d] stride and dilation must be positive, padding non-negative");
  if (bias_) MT_CHECK(in[2] == Shape{w[0]}, ShapeError, "[conv2d] bias ", in[2].str(), " for ", w[0],
                      " output channels");
  const int64_t oh = conv_out_size(x[2], w[2], desc_.stride_h, desc_.pad_h, desc_.dilation_h);
  const int64_t ow = conv_out_size(x[3], w[3], desc_.stride_w, desc_.pad_w, desc_.dilation_w);
  MT_CHECK(oh > 0 && ow > 0, ShapeError, "[conv2d] input ", x.str(), " too small for kernel ",
           w[2], "x", w[3]);
  return {Shape{x[0], w[0], oh, ow}};
}

void Conv2dOp::forward(OpContext& ctx) const {
  static const Tensor none;
  ctx.backend.conv2d_fwd(desc_, ctx.in(0), ctx.in(1), bias_ ? ctx.in(2) : none, ctx.out(0));
}

void Conv2dOp::backward(OpContext& ctx) const {
  if (ctx.wants_dinput(0)) ctx.backend.conv2d_bwd_data(desc_, ctx.dout(0), ctx.in(1), ctx.din(0));
  const bool dw = ctx.wants_dinput(1), db = bias_ && ctx.wants_dinput(2);
  if (dw || db) {
    Tensor no_dw, no_db;
    MT_CHECK(dw, BackendError, "[conv2d] a bias gradient without a weight gradient is not supported");
    ctx.backend.conv2d_bwd_weights(desc_, ctx.in(0), ctx.dout(0), ctx.din(1), db ? ctx.din(2) : no_db);
  }
}

nlohmann::json Conv2dOp::attributes() const {
  return {{"stride", {desc_.stride_h, desc_.stride_w}},
          {"padding", {desc_.pad_h, desc_.pad_w}},
          {"dilation", {desc_.dilation_h, desc_.dilation_w}},
          {"groups", desc_.groups},
          {"bias", bias_}};
}

int64_t Conv2dOp::macs(const std::vector<Shape>& in, const std::vector<Shape>& out) const {
  const Shape& w = in[1];
  return out[0].numel() * w[1] * w[2] * w[3];  // per output element: C/g * kH * kW
}

}  // namespace mt
