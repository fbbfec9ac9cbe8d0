#pragma once
// The option-A ResNet shortcut: y[n, pad_before + c, h, w] = x[n, c, h * s, w * s], zeros in the
// padded channels. y's spatial size is ceil(H / s), so the subsample starts at row 0.
#include "core/backend.h"
#include "kernels/reference/strided.h"

namespace mt::reference {

inline void expect_channel_pad_shapes(std::string_view op, const ChannelPadDesc& d, const Tensor& x,
                                      const Tensor& y) {
  expect_rank(op, "x", x, 4);
  MT_CHECK(d.stride >= 1 && d.pad_before >= 0 && d.pad_after >= 0, ShapeError, "[", op,
           "] stride must be positive and padding non-negative");
  const int64_t s = d.stride;
  expect_shape(op, "y", y,
               Shape{x.dim(0), x.dim(1) + d.pad_before + d.pad_after, (x.dim(2) + s - 1) / s,
                     (x.dim(3) + s - 1) / s});
}

template <typename T>
void channel_pad_fwd(const ChannelPadDesc& d, const Tensor& x, Tensor& y) {
  expect_dtype<T>("channel_pad_fwd", {&x, &y});
  expect_channel_pad_shapes("channel_pad_fwd", d, x, y);
  const View4<const T> X = view4<const T>(x);
  const View4<T> Y = view4<T>(y);
  const int64_t C = x.dim(1);
  for (int64_t n = 0; n < y.dim(0); ++n)
    for (int64_t c = 0; c < y.dim(1); ++c)
      for (int64_t h = 0; h < y.dim(2); ++h)
        for (int64_t w = 0; w < y.dim(3); ++w) {
          const int64_t src = c - d.pad_before;
          Y(n, c, h, w) = src >= 0 && src < C ? X(n, src, h * d.stride, w * d.stride) : T(0);
        }
}

// dx is dy's matching channel at the sampled positions and zero at the skipped ones.
template <typename T>
void channel_pad_bwd(const ChannelPadDesc& d, const Tensor& dy, Tensor& dx) {
  expect_dtype<T>("channel_pad_bwd", {&dy, &dx});
  expect_channel_pad_shapes("channel_pad_bwd", d, dx, dy);
  const View4<const T> DY = view4<const T>(dy);
  const View4<T> DX = view4<T>(dx);
  const int64_t s = d.stride;
  for (int64_t n = 0; n < dx.dim(0); ++n)
    for (int64_t c = 0; c < dx.dim(1); ++c)
      for (int64_t h = 0; h < dx.dim(2); ++h)
        for (int64_t w = 0; w < dx.dim(3); ++w) {
          const bool sampled = h % s == 0 && w % s == 0;
          DX(n, c, h, w) = sampled ? DY(n, c + d.pad_before, h / s, w / s) : T(0);
        }
}

}  // namespace mt::reference
