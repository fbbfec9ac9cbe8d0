// The option-A ResNet shortcut: spatial subsampling by `stride` plus zero channels before and
// after. One pass writes every output element (zeros included), so no separate fill is needed.
#include <algorithm>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"

namespace mt {
namespace {

// Element strides of a rank-4 tensor.
struct S4 {
  int64_t n, c, h, w;
};
S4 strides4(const Tensor& t) { return {t.stride(0), t.stride(1), t.stride(2), t.stride(3)}; }

void check_pad(std::string_view op, const ChannelPadDesc& d, const Tensor& x, const Tensor& y) {
  cpu::check_f32(op, {&x, &y});
  const int64_t s = d.stride;
  MT_CHECK(s >= 1 && x.rank() == 4 && y.rank() == 4 && y.dim(0) == x.dim(0) &&
               y.dim(1) == x.dim(1) + d.pad_before + d.pad_after &&
               y.dim(2) == (x.dim(2) + s - 1) / s && y.dim(3) == (x.dim(3) + s - 1) / s,
           ShapeError, "[", op, "] x ", x.shape().str(), " and y ", y.shape().str(),
           " do not match stride ", s, " and channel pads ", d.pad_before, "/", d.pad_after);
}

// One output row of an nhwc -> nhwc pad: per pixel, pb zeros, the C channels of every s-th input
// pixel (in_step floats apart), zeros up to CY.
MT_CPU_CLONES void pad_row_nhwc(float* out, const float* in, int64_t OW, int64_t in_step, int64_t C,
                                int64_t pb, int64_t CY) {
  for (int64_t ow = 0; ow < OW; ++ow, out += CY, in += in_step) {
    for (int64_t c = 0; c < pb; ++c) out[c] = 0.0f;
    for (int64_t c = 0; c < C; ++c) out[pb + c] = in[c];
    for (int64_t c = pb + C; c < CY; ++c) out[c] = 0.0f;
  }
}

// One dx row of the nhwc backward: sampled pixels take dy's channels [pb, pb + C), the rest 0.
MT_CPU_CLONES void unpad_row_nhwc(float* out, const float* in, int64_t W, int64_t s,
                                  bool sampled_row, int64_t C, int64_t CY) {
  for (int64_t w = 0; w < W; ++w, out += C) {
    const float* src = in + (w / s) * CY;
    if (sampled_row && w % s == 0) {
      for (int64_t c = 0; c < C; ++c) out[c] = src[c];
    } else {
      for (int64_t c = 0; c < C; ++c) out[c] = 0.0f;
    }
  }
}

}  // namespace

void CpuBackend::channel_pad_fwd(const ChannelPadDesc& d, const Tensor& x, Tensor& y) {
  check_pad("channel_pad_fwd", d, x, y);
  const int64_t C = x.dim(1), CY = y.dim(1), OH = y.dim(2), OW = y.dim(3), s = d.stride;
  const int64_t pb = d.pad_before;
  const float* px = x.data<float>();
  float* py = y.data<float>();
  const S4 xs = strides4(x), ys = strides4(y);
  const bool both_nhwc = xs.c == 1 && ys.c == 1;
  cpu::parallel_for(
      y.dim(0) * OH,
      [&](int64_t r) {
        const int64_t n = r / OH, oh = r % OH;
        const float* xrow = px + n * xs.n + oh * s * xs.h;
        float* yrow = py + n * ys.n + oh * ys.h;
        auto value = [&](int64_t c, int64_t ow) {
          const int64_t ci = c - pb;
          return ci >= 0 && ci < C ? xrow[ci * xs.c + ow * s * xs.w] : 0.0f;
        };
        if (both_nhwc) {
          pad_row_nhwc(yrow, xrow, OW, s * xs.w, C, pb, CY);
        } else {
          for (int64_t c = 0; c < CY; ++c)
            for (int64_t ow = 0; ow < OW; ++ow) yrow[c * ys.c + ow * ys.w] = value(c, ow);
        }
      },
      OW * CY);
}

void CpuBackend::channel_pad_bwd(const ChannelPadDesc& d, const Tensor& dy, Tensor& dx) {
  check_pad("channel_pad_bwd", d, dx, dy);
  const int64_t C = dx.dim(1), H = dx.dim(2), W = dx.dim(3), s = d.stride;
  const int64_t pb = d.pad_before;
  const float* pg = dy.data<float>();
  float* px = dx.data<float>();
  const S4 xs = strides4(dx), gs = strides4(dy);
  const bool both_nhwc = xs.c == 1 && gs.c == 1;
  cpu::parallel_for(
      dx.dim(0) * H,
      [&](int64_t r) {
        const int64_t n = r / H, h = r % H;
        float* xrow = px + n * xs.n + h * xs.h;
        const bool sampled_row = h % s == 0;
        const float* grow = pg + n * gs.n + (h / s) * gs.h + pb * gs.c;
        // Positions the forward skipped (between strides) get no gradient.
        auto value = [&](int64_t c, int64_t w) {
          return sampled_row && w % s == 0 ? grow[c * gs.c + (w / s) * gs.w] : 0.0f;
        };
        if (both_nhwc) {
          unpad_row_nhwc(xrow, grow, W, s, sampled_row, C, dy.dim(1));
        } else {
          for (int64_t c = 0; c < C; ++c)
            for (int64_t w = 0; w < W; ++w) xrow[c * xs.c + w * xs.w] = value(c, w);
        }
      },
      W * C);
}

}  // namespace mt
