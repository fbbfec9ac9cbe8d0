#pragma once
// Max, average and global average pooling with PyTorch's rules:
// - window (oh, ow) covers rows [oh*s - p, oh*s - p + k) clipped to the input; padding never wins a
//   max (it acts as -inf) and ties keep the first maximum in row-major scan order;
// - average divisor: with count_include_pad the window clipped to the padded extent
//   (min(hs + k, H + p) - hs per axis), else the number of real elements;
// - ceil_mode only changes the output size, which the caller's y already has.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/backend.h"
#include "core/ops/pool2d.h"
#include "kernels/reference/strided.h"

namespace mt::reference {

// One axis of one pooling window.
struct PoolSpan {
  int64_t begin, end;  // real input rows/cols [begin, end)
  int64_t padded;      // extent counted by count_include_pad
};

inline PoolSpan pool_span(int64_t out_index, int kernel, int stride, int pad, int64_t in) {
  const int64_t start = out_index * stride - pad;
  const int64_t padded_end = std::min<int64_t>(start + kernel, in + pad);
  return {std::max<int64_t>(start, 0), std::min<int64_t>(start + kernel, in), padded_end - start};
}

inline void expect_pool_shapes(std::string_view op, const Pool2dDesc& d, const Shape& x,
                               const Shape& y) {
  const Shape expected = pool_output_shape(op, d, x);
  MT_CHECK(y == expected, ShapeError, "[", op, "] y ", y.str(), " for x ", x.str(), ", expected ",
           expected.str());
}

// Visits every output position with its two window spans.
template <typename F>
void for_each_window(const Pool2dDesc& d, const Shape& x, const Shape& y, F&& f) {
  for (int64_t n = 0; n < y[0]; ++n)
    for (int64_t c = 0; c < y[1]; ++c)
      for (int64_t oh = 0; oh < y[2]; ++oh) {
        const PoolSpan sh = pool_span(oh, d.kernel_h, d.stride_h, d.pad_h, x[2]);
        for (int64_t ow = 0; ow < y[3]; ++ow)
          f(n, c, oh, ow, sh, pool_span(ow, d.kernel_w, d.stride_w, d.pad_w, x[3]));
      }
}

// workspace: i64 [N, C, OH, OW], the argmax of each window as h * W + w in its input plane.
template <typename T>
void maxpool_fwd(const Pool2dDesc& d, const Tensor& x, Tensor& y, Tensor& workspace) {
  expect_dtype<T>("maxpool_fwd", {&x, &y});
  expect_pool_shapes("maxpool_fwd", d, x.shape(), y.shape());
  if (!workspace.defined() || workspace.shape() != y.shape() || workspace.dtype() != DType::i64)
    workspace = Tensor::empty(y.shape(), DType::i64);
  const View4<const T> X = view4<const T>(x);
  const View4<T> Y = view4<T>(y);
  const View4<int64_t> ARG = view4<int64_t>(workspace);
  const int64_t W = x.dim(3);
  for_each_window(
      d, x.shape(), y.shape(),
      [&](int64_t n, int64_t c, int64_t oh, int64_t ow, const PoolSpan& sh, const PoolSpan& sw) {
        T best = -std::numeric_limits<T>::infinity();
        int64_t arg = sh.begin * W + sw.begin;
        for (int64_t h = sh.begin; h < sh.end; ++h)
          for (int64_t w = sw.begin; w < sw.end; ++w) {
            const T v = X(n, c, h, w);
            if (v > best || std::isnan(v)) {  // strict >: the first max wins; NaN propagates
              best = v;
              arg = h * W + w;
            }
          }
        Y(n, c, oh, ow) = best;
        ARG(n, c, oh, ow) = arg;
      });
}

template <typename T>
void maxpool_bwd(const Pool2dDesc& d, const Tensor& x, const Tensor& dy, const Tensor& workspace,
                 Tensor& dx) {
  expect_dtype<T>("maxpool_bwd", {&x, &dy, &dx});
  expect_pool_shapes("maxpool_bwd", d, dx.shape(), dy.shape());
  MT_CHECK(
      workspace.defined() && workspace.dtype() == DType::i64 && workspace.shape() == dy.shape(),
      BackendError, "[maxpool_bwd] workspace must be the i64 argmax of a reference maxpool_fwd ",
      "of shape ", dy.shape().str());
  fill<T>(dx, 0);
  const View4<const T> DY = view4<const T>(dy);
  const View4<const int64_t> ARG = view4<const int64_t>(workspace);
  const View4<T> DX = view4<T>(dx);
  const int64_t W = dx.dim(3);
  for_each_window(
      d, dx.shape(), dy.shape(),
      [&](int64_t n, int64_t c, int64_t oh, int64_t ow, const PoolSpan&, const PoolSpan&) {
        const int64_t arg = ARG(n, c, oh, ow);
        DX(n, c, arg / W, arg % W) += DY(n, c, oh, ow);
      });
}

inline int64_t avg_divisor(const Pool2dDesc& d, const PoolSpan& sh, const PoolSpan& sw) {
  if (d.count_include_pad) return sh.padded * sw.padded;
  return (sh.end - sh.begin) * (sw.end - sw.begin);
}

template <typename T>
void avgpool_fwd(const Pool2dDesc& d, const Tensor& x, Tensor& y) {
  expect_dtype<T>("avgpool_fwd", {&x, &y});
  expect_pool_shapes("avgpool_fwd", d, x.shape(), y.shape());
  const View4<const T> X = view4<const T>(x);
  const View4<T> Y = view4<T>(y);
  for_each_window(
      d, x.shape(), y.shape(),
      [&](int64_t n, int64_t c, int64_t oh, int64_t ow, const PoolSpan& sh, const PoolSpan& sw) {
        Acc sum = 0;
        for (int64_t h = sh.begin; h < sh.end; ++h)
          for (int64_t w = sw.begin; w < sw.end; ++w) sum += X(n, c, h, w);
        Y(n, c, oh, ow) = static_cast<T>(sum / avg_divisor(d, sh, sw));
      });
}

// Each dy spreads evenly over the real elements of its window (scatter; windows may overlap).
template <typename T>
void avgpool_bwd(const Pool2dDesc& d, const Tensor& dy, Tensor& dx) {
  expect_dtype<T>("avgpool_bwd", {&dy, &dx});
  expect_pool_shapes("avgpool_bwd", d, dx.shape(), dy.shape());
  fill<T>(dx, 0);
  const View4<const T> DY = view4<const T>(dy);
  const View4<T> DX = view4<T>(dx);
  for_each_window(
      d, dx.shape(), dy.shape(),
      [&](int64_t n, int64_t c, int64_t oh, int64_t ow, const PoolSpan& sh, const PoolSpan& sw) {
        const Acc share = Acc(DY(n, c, oh, ow)) / avg_divisor(d, sh, sw);
        for (int64_t h = sh.begin; h < sh.end; ++h)
          for (int64_t w = sw.begin; w < sw.end; ++w) DX(n, c, h, w) += static_cast<T>(share);
      });
}

// x [N, C, H, W] -> y [N, C]
template <typename T>
void global_avgpool_fwd(const Tensor& x, Tensor& y) {
  expect_dtype<T>("global_avgpool_fwd", {&x, &y});
  expect_rank("global_avgpool_fwd", "x", x, 4);
  expect_shape("global_avgpool_fwd", "y", y, Shape{x.dim(0), x.dim(1)});
  const View4<const T> X = view4<const T>(x);
  const View2<T> Y = view2<T>(y);
  const int64_t H = x.dim(2), W = x.dim(3);
  for (int64_t n = 0; n < x.dim(0); ++n)
    for (int64_t c = 0; c < x.dim(1); ++c) {
      Acc sum = 0;
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) sum += X(n, c, h, w);
      Y(n, c) = static_cast<T>(sum / (H * W));
    }
}

template <typename T>
void global_avgpool_bwd(const Tensor& dy, Tensor& dx) {
  expect_dtype<T>("global_avgpool_bwd", {&dy, &dx});
  expect_rank("global_avgpool_bwd", "dx", dx, 4);
  expect_shape("global_avgpool_bwd", "dy", dy, Shape{dx.dim(0), dx.dim(1)});
  const View2<const T> DY = view2<const T>(dy);
  const View4<T> DX = view4<T>(dx);
  const int64_t H = dx.dim(2), W = dx.dim(3);
  for (int64_t n = 0; n < dx.dim(0); ++n)
    for (int64_t c = 0; c < dx.dim(1); ++c) {
      const T share = static_cast<T>(Acc(DY(n, c)) / (H * W));
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) DX(n, c, h, w) = share;
    }
}

}  // namespace mt::reference
