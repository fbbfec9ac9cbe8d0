#pragma once
// Grouped, strided, padded, dilated 2-D convolution as PyTorch defines it (cross-correlation):
//   y[n, o, oh, ow] = b[o] + sum_{ci, kh, kw} x[n, g*Cg + ci, oh*s - p + kh*d, ow*s - p + kw*d]
//                                             * w[o, ci, kh, kw],   g = o / Og.
// All three passes are written as gathers (each output element sums its own terms in double), so
// none of them depends on accumulation order.
#include "core/backend.h"
#include "core/ops/conv2d.h"
#include "kernels/reference/strided.h"

namespace mt::reference {

// The sizes every pass needs, checked once.
struct ConvGeometry {
  int64_t N, C, H, W;  // input
  int64_t O, OH, OW;   // output
  int64_t KH, KW;      // kernel
  int64_t Cg, Og;      // channels per group, in and out
};

inline ConvGeometry conv_geometry(std::string_view op, const Conv2dDesc& d, const Shape& x,
                                  const Shape& w, const Shape& y) {
  MT_CHECK(x.rank() == 4 && w.rank() == 4 && y.rank() == 4, ShapeError, "[", op, "] x ", x.str(),
           ", w ", w.str(), ", y ", y.str(), " must be rank 4");
  const int64_t g = d.groups;
  MT_CHECK(g >= 1 && x[1] % g == 0 && w[0] % g == 0 && w[1] * g == x[1], ShapeError, "[", op,
           "] x ", x.str(), " and w ", w.str(), " do not fit groups = ", g);
  const int64_t oh = conv_out_size(x[2], w[2], d.stride_h, d.pad_h, d.dilation_h);
  const int64_t ow = conv_out_size(x[3], w[3], d.stride_w, d.pad_w, d.dilation_w);
  const Shape expected{x[0], w[0], oh, ow};
  MT_CHECK(y == expected, ShapeError, "[", op, "] y ", y.str(), " for x ", x.str(), " and w ",
           w.str(), ", expected ", expected.str());
  return {x[0], x[1], x[2], x[3], w[0], oh, ow, w[2], w[3], w[1], w[0] / g};
}

template <typename T>
void conv2d_fwd(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  expect_dtype<T>("conv2d_fwd", {&x, &w, &b, &y});
  const ConvGeometry g = conv_geometry("conv2d_fwd", d, x.shape(), w.shape(), y.shape());
  if (b.defined()) expect_shape("conv2d_fwd", "bias", b, Shape{g.O});
  const View4<const T> X = view4<const T>(x), Wt = view4<const T>(w);
  const View4<T> Y = view4<T>(y);
  const T* bias = b.defined() ? b.data<T>() : nullptr;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t o = 0; o < g.O; ++o) {
      const int64_t c0 = (o / g.Og) * g.Cg;  // first input channel of o's group
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          Acc sum = bias ? bias[o * b.stride(0)] : 0;
          for (int64_t ci = 0; ci < g.Cg; ++ci)
            for (int64_t kh = 0; kh < g.KH; ++kh) {
              const int64_t ih = oh * d.stride_h - d.pad_h + kh * d.dilation_h;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t iw = ow * d.stride_w - d.pad_w + kw * d.dilation_w;
                if (iw < 0 || iw >= g.W) continue;
                sum += Acc(X(n, c0 + ci, ih, iw)) * Acc(Wt(o, ci, kh, kw));
              }
            }
          Y(n, o, oh, ow) = static_cast<T>(sum);
        }
    }
}

// dx[n, c, ih, iw] gathers every (o, kh, kw) whose window put x[n, c, ih, iw] under
// w[o, ci, kh, kw]: oh = (ih + p - kh*d) / s when that divides exactly and lands in the output.
template <typename T>
void conv2d_bwd_data(const Conv2dDesc& d, const Tensor& dy, const Tensor& w, Tensor& dx) {
  expect_dtype<T>("conv2d_bwd_data", {&dy, &w, &dx});
  const ConvGeometry g = conv_geometry("conv2d_bwd_data", d, dx.shape(), w.shape(), dy.shape());
  const View4<const T> DY = view4<const T>(dy), Wt = view4<const T>(w);
  const View4<T> DX = view4<T>(dx);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c) {
      const int64_t group = c / g.Cg, ci = c % g.Cg;
      for (int64_t ih = 0; ih < g.H; ++ih)
        for (int64_t iw = 0; iw < g.W; ++iw) {
          Acc sum = 0;
          for (int64_t kh = 0; kh < g.KH; ++kh) {
            const int64_t th = ih + d.pad_h - kh * d.dilation_h;
            if (th < 0 || th % d.stride_h != 0 || th / d.stride_h >= g.OH) continue;
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const int64_t tw = iw + d.pad_w - kw * d.dilation_w;
              if (tw < 0 || tw % d.stride_w != 0 || tw / d.stride_w >= g.OW) continue;
              for (int64_t oo = 0; oo < g.Og; ++oo) {
                const int64_t o = group * g.Og + oo;
                sum += Acc(DY(n, o, th / d.stride_h, tw / d.stride_w)) * Acc(Wt(o, ci, kh, kw));
              }
            }
          }
          DX(n, c, ih, iw) = static_cast<T>(sum);
        }
    }
}

// dw[o, ci, kh, kw] = sum_{n, oh, ow} dy[n, o, oh, ow] * x[n, c0 + ci, ih, iw]; db[o] = sum dy.
template <typename T>
void conv2d_bwd_weights(const Conv2dDesc& d, const Tensor& x, const Tensor& dy, Tensor& dw,
                        Tensor& db) {
  expect_dtype<T>("conv2d_bwd_weights", {&x, &dy, &dw, &db});
  const ConvGeometry g = conv_geometry("conv2d_bwd_weights", d, x.shape(), dw.shape(), dy.shape());
  const View4<const T> X = view4<const T>(x), DY = view4<const T>(dy);
  const View4<T> DW = view4<T>(dw);
  for (int64_t o = 0; o < g.O; ++o) {
    const int64_t c0 = (o / g.Og) * g.Cg;
    for (int64_t ci = 0; ci < g.Cg; ++ci)
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          Acc sum = 0;
          for (int64_t n = 0; n < g.N; ++n)
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              const int64_t ih = oh * d.stride_h - d.pad_h + kh * d.dilation_h;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t ow = 0; ow < g.OW; ++ow) {
                const int64_t iw = ow * d.stride_w - d.pad_w + kw * d.dilation_w;
                if (iw < 0 || iw >= g.W) continue;
                sum += Acc(DY(n, o, oh, ow)) * Acc(X(n, c0 + ci, ih, iw));
              }
            }
          DW(o, ci, kh, kw) = static_cast<T>(sum);
        }
  }
  if (!db.defined()) return;
  expect_shape("conv2d_bwd_weights", "db", db, Shape{g.O});
  T* bias = db.data<T>();
  for (int64_t o = 0; o < g.O; ++o) {
    Acc sum = 0;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) sum += DY(n, o, oh, ow);
    bias[o * db.stride(0)] = static_cast<T>(sum);
  }
}

}  // namespace mt::reference
