// Thin convolutions as direct loops over 16-lane vectors (GCC vector extensions: one AVX-512
// register, two AVX2 ones, four SSE ones; the clones in MT_CPU_CLONES pick the widest the CPU has).
//
// Thin output (O <= 8 filters, C % 16 == 0): the vectors run along the input channels; each output
// pixel keeps O accumulators of 16 partial sums and adds them up once at the end. Thin input
// (C <= 8, O % 16 == 0): the vectors run along the filters; each input value is broadcast. Thin
// on both sides (C <= 8, O <= 8, stride 1): the vectors run along the output row, over planes.
// Both keep T neighbouring output pixels in flight so the multiply-adds of one pixel do not wait on
// each other; pixels whose window crosses the left or right border take a one-pixel path with
// bounds checks.
#include "kernels/cpu/conv_thin.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_util.h"

// Every function passing these vectors by value is inlined into one of the clones, so the note
// that their calling convention differs between ISAs concerns no real call.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace mt::cpu {
namespace {

using V16 = float __attribute__((vector_size(64)));
using V8 = float __attribute__((vector_size(32)));
using V4 = float __attribute__((vector_size(16)));

#define MT_INLINE __attribute__((always_inline)) inline

MT_INLINE V16 load16(const float* p) {
  V16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

MT_INLINE void store16(float* p, V16 v) { std::memcpy(p, &v, sizeof v); }

// Horizontal sums of up to 16 vectors at once: fold pairs of vectors so that each step halves the
// lanes per sum and doubles the sums per vector (a transpose-add tree: 3 instructions a sum instead
// of 8 for one sum at a time). Lane i of the result is the sum of a[i]'s lanes.
MT_INLINE V16 fold8(V16 a, V16 b) {
  return __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
         __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
}
MT_INLINE V16 fold4(V16 a, V16 b) {
  return __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
         __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
}
MT_INLINE V16 fold2(V16 a, V16 b) {
  return __builtin_shufflevector(a, b, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) +
         __builtin_shufflevector(a, b, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
}
MT_INLINE V16 fold1(V16 a, V16 b) {
  return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
         __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

template <int K>  // sums of a[0..K), K <= 16, in lanes 0..K
MT_INLINE V16 sums(const V16 (&a)[K]) {
  static_assert(K >= 1 && K <= 16);
  V16 x[16];
  for (int i = 0; i < 16; ++i) x[i] = i < K ? a[i] : V16{};
  V16 v[8], u[4], w[2];
  for (int i = 0; i < 8; ++i) v[i] = K > 2 * i ? fold8(x[2 * i], x[2 * i + 1]) : V16{};
  for (int i = 0; i < 4; ++i) u[i] = K > 4 * i ? fold4(v[2 * i], v[2 * i + 1]) : V16{};
  for (int i = 0; i < 2; ++i) w[i] = K > 8 * i ? fold2(u[2 * i], u[2 * i + 1]) : V16{};
  return fold1(w[0], w[1]);
}

struct Geom {
  int64_t C, H, W, O, OH, OW, KH, KW, sh, sw, ph, pw;
  // Output columns whose whole window lies inside the image: [ox_lo, ox_hi).
  int64_t ox_lo, ox_hi;
};

Geom geometry(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& y) {
  Geom g{x.dim(1), x.dim(2), x.dim(3), y.dim(1), y.dim(2), y.dim(3), w.dim(2), w.dim(3),
         d.stride_h, d.stride_w, d.pad_h, d.pad_w, 0, 0};
  g.ox_lo = std::min(g.OW, (g.pw + g.sw - 1) / g.sw);
  // The last column whose window ends inside: ox * sw - pw + KW - 1 <= W - 1.
  const int64_t last = g.W - g.KW + g.pw >= 0 ? (g.W - g.KW + g.pw) / g.sw : -1;
  g.ox_hi = std::max(g.ox_lo, std::min(g.OW, last + 1));
  return g;
}

// Rows of the output are (image, oy) pairs; each row of one image reads the input rows its
// window covers.
struct Rows {
  const float* x;     // dense nhwc input
  const float* wt;    // repacked weights (layout per kernel below)
  const float* bias;  // [O], zeros when the conv has none
  float* y;           // dense nhwc output
  bool relu;
};

// ---- thin output. Weights repacked as [kH][kW][O][C].

// T output pixels from ox0 on; `checked`: some window may leave the image on the left or right.
template <int O, int T, bool checked>
MT_INLINE void thin_out_pixels(const Geom& g, const Rows& r, const float* xn, int64_t oy, int64_t ox0,
                               V16 bias, float* yrow) {
  V16 acc[T * O] = {};  // acc[t * O + o]: the order of y's floats from pixel ox0 on
  for (int64_t ky = 0; ky < g.KH; ++ky) {
    const int64_t iy = oy * g.sh - g.ph + ky;
    if (iy < 0 || iy >= g.H) continue;
    const float* xr = xn + iy * g.W * g.C;
    for (int64_t kx = 0; kx < g.KW; ++kx) {
      const int64_t ix0 = ox0 * g.sw - g.pw + kx;
      if (checked && (ix0 < 0 || ix0 >= g.W)) continue;  // T == 1 on the checked path
      const float* wk = r.wt + (ky * g.KW + kx) * O * g.C;
      for (int64_t cb = 0; cb < g.C; cb += 16) {
        V16 wv[O];
        for (int o = 0; o < O; ++o) wv[o] = load16(wk + o * g.C + cb);
        for (int t = 0; t < T; ++t) {
          const V16 v = load16(xr + (ix0 + t * g.sw) * g.C + cb);
          for (int o = 0; o < O; ++o) acc[t * O + o] += v * wv[o];
        }
      }
    }
  }
  V16 out = sums<T * O>(acc) + bias;
  if (r.relu) out = out > 0 ? out : V16{};
  std::memcpy(yrow + ox0 * O, &out, T * O * sizeof(float));
}

template <int O>
MT_INLINE void thin_out_row(const Geom& g, const Rows& r, int64_t row) {
  // As many pixels in flight as fill one vector of sums (and leave registers for O weights).
  constexpr int T = 16 / O;
  const int64_t n = row / g.OH, oy = row % g.OH;
  const float* xn = r.x + n * g.H * g.W * g.C;
  float* yrow = r.y + row * g.OW * O;
  V16 bias;  // lane t * O + o holds bias[o]
  for (int i = 0; i < 16; ++i) bias[i] = r.bias[i % O];
  int64_t ox = 0;
  for (; ox < g.ox_lo; ++ox) thin_out_pixels<O, 1, true>(g, r, xn, oy, ox, bias, yrow);
  for (; ox + T <= g.ox_hi; ox += T) thin_out_pixels<O, T, false>(g, r, xn, oy, ox, bias, yrow);
  for (; ox < g.ox_hi; ++ox) thin_out_pixels<O, 1, false>(g, r, xn, oy, ox, bias, yrow);
  for (; ox < g.OW; ++ox) thin_out_pixels<O, 1, true>(g, r, xn, oy, ox, bias, yrow);
}

MT_CPU_CLONES void thin_out_rows(const Geom& g, const Rows& r, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    switch (g.O) {
      case 1: thin_out_row<1>(g, r, row); break;
      case 2: thin_out_row<2>(g, r, row); break;
      case 3: thin_out_row<3>(g, r, row); break;
      case 4: thin_out_row<4>(g, r, row); break;
      case 5: thin_out_row<5>(g, r, row); break;
      case 6: thin_out_row<6>(g, r, row); break;
      case 7: thin_out_row<7>(g, r, row); break;
      default: thin_out_row<8>(g, r, row); break;
    }
  }
}

// ---- thin input. Weights repacked as [kH][kW][C][O].

template <int B, int T, bool checked>  // B = O / 16 vectors of filters
MT_INLINE void thin_in_pixels(const Geom& g, const Rows& r, const float* xn, int64_t oy, int64_t ox0,
                              float* yrow) {
  V16 acc[T][B];
  for (int b = 0; b < B; ++b) {
    const V16 bias = load16(r.bias + 16 * b);
    for (int t = 0; t < T; ++t) acc[t][b] = bias;
  }
  for (int64_t ky = 0; ky < g.KH; ++ky) {
    const int64_t iy = oy * g.sh - g.ph + ky;
    if (iy < 0 || iy >= g.H) continue;
    const float* xr = xn + iy * g.W * g.C;
    for (int64_t kx = 0; kx < g.KW; ++kx) {
      const int64_t ix0 = ox0 * g.sw - g.pw + kx;
      if (checked && (ix0 < 0 || ix0 >= g.W)) continue;
      const float* wk = r.wt + (ky * g.KW + kx) * g.C * g.O;
      for (int64_t c = 0; c < g.C; ++c) {
        V16 wv[B];
        for (int b = 0; b < B; ++b) wv[b] = load16(wk + c * g.O + 16 * b);
        for (int t = 0; t < T; ++t) {
          const float v = xr[(ix0 + t * g.sw) * g.C + c];
          for (int b = 0; b < B; ++b) acc[t][b] += v * wv[b];
        }
      }
    }
  }
  for (int t = 0; t < T; ++t)
    for (int b = 0; b < B; ++b) {
      V16 v = acc[t][b];
      if (r.relu) v = v > 0 ? v : V16{};
      store16(yrow + (ox0 + t) * g.O + 16 * b, v);
    }
}

template <int B>
MT_INLINE void thin_in_row(const Geom& g, const Rows& r, int64_t row) {
  constexpr int T = B <= 1 ? 8 : B <= 2 ? 6 : B <= 3 ? 4 : 3;
  const int64_t n = row / g.OH, oy = row % g.OH;
  const float* xn = r.x + n * g.H * g.W * g.C;
  float* yrow = r.y + row * g.OW * g.O;
  int64_t ox = 0;
  for (; ox < g.ox_lo; ++ox) thin_in_pixels<B, 1, true>(g, r, xn, oy, ox, yrow);
  for (; ox + T <= g.ox_hi; ox += T) thin_in_pixels<B, T, false>(g, r, xn, oy, ox, yrow);
  for (; ox < g.ox_hi; ++ox) thin_in_pixels<B, 1, false>(g, r, xn, oy, ox, yrow);
  for (; ox < g.OW; ++ox) thin_in_pixels<B, 1, true>(g, r, xn, oy, ox, yrow);
}

MT_CPU_CLONES void thin_in_rows(const Geom& g, const Rows& r, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    switch (g.O / 16) {
      case 1: thin_in_row<1>(g, r, row); break;
      case 2: thin_in_row<2>(g, r, row); break;
      case 3: thin_in_row<3>(g, r, row); break;
      default: thin_in_row<4>(g, r, row); break;
    }
  }
}

// ---- thin on both sides (C <= 8 and O <= 8, stride 1): the vectors run along the output row.
// Neither side fills a vector of channels, so oneDNN (and the two paths above) would compute
// mostly padding; here each image is first copied into C zero-padded planes, so that one filter
// tap for 16 neighbouring output pixels is one unaligned load, and no window needs a bounds check.

struct Planes {
  int64_t height, width;  // of each padded plane: H + 2 ph rows, OW rounded up to 16, + KW - 1 columns
  int64_t out_width;      // OW rounded up to 16: the columns computed per output row
};

Planes plane_geometry(const Geom& g) {
  const int64_t out_width = (g.OW + 15) / 16 * 16;
  return {g.H + 2 * g.ph, out_width + g.KW - 1, out_width};
}

// One image's C interleaved channels into the planes' interiors (C known, so the strided reads
// compile to a fixed pattern instead of an index computation per float).
template <int C>
MT_INLINE void to_planes(const Geom& g, const Planes& p, const float* xn, float* planes) {
  for (int64_t iy = 0; iy < g.H; ++iy) {
    const float* src = xn + iy * g.W * C;
    float* dst[C];
    for (int c = 0; c < C; ++c) dst[c] = planes + (c * p.height + iy + g.ph) * p.width + g.pw;
    for (int64_t ix = 0; ix < g.W; ++ix)
      for (int c = 0; c < C; ++c) dst[c][ix] = src[ix * C + c];
  }
}

// R output rows from oy on, all their columns: R * O accumulators in flight per 16 pixels, so
// that a thin layer's few multiply-adds per tap do not wait on each other.
template <int O, int R>
MT_INLINE void thin_both_rows(const Geom& g, const Rows& r, const Planes& p, const float* planes, int64_t oy,
                              float* out) {
  for (int64_t ox = 0; ox < p.out_width; ox += 16) {
    V16 acc[R][O];
    for (int i = 0; i < R; ++i)
      for (int o = 0; o < O; ++o) acc[i][o] = V16{} + r.bias[o];
    for (int64_t ky = 0; ky < g.KH; ++ky)
      for (int64_t kx = 0; kx < g.KW; ++kx) {
        const float* wk = r.wt + (ky * g.KW + kx) * g.C * O;
        for (int64_t c = 0; c < g.C; ++c) {
          const float* pc = planes + (c * p.height + oy + ky) * p.width + ox + kx;
          for (int i = 0; i < R; ++i) {
            const V16 v = load16(pc + i * p.width);
            for (int o = 0; o < O; ++o) acc[i][o] += v * wk[c * O + o];
          }
        }
      }
    for (int i = 0; i < R; ++i)
      for (int o = 0; o < O; ++o) {
        V16 v = acc[i][o];
        if (r.relu) v = v > 0 ? v : V16{};
        store16(out + (i * O + o) * p.out_width + ox, v);
      }
  }
}

template <int O>
MT_INLINE void thin_both_image(const Geom& g, const Rows& r, int64_t n, float* planes, float* out) {
  constexpr int R = O >= 5 ? 1 : 8 / O;  // about 8 accumulators
  const Planes p = plane_geometry(g);
  const float* xn = r.x + n * g.H * g.W * g.C;
  std::memset(planes, 0, g.C * p.height * p.width * sizeof(float));
  switch (g.C) {
    case 1: to_planes<1>(g, p, xn, planes); break;
    case 2: to_planes<2>(g, p, xn, planes); break;
    case 3: to_planes<3>(g, p, xn, planes); break;
    case 4: to_planes<4>(g, p, xn, planes); break;
    case 5: to_planes<5>(g, p, xn, planes); break;
    case 6: to_planes<6>(g, p, xn, planes); break;
    case 7: to_planes<7>(g, p, xn, planes); break;
    default: to_planes<8>(g, p, xn, planes); break;
  }
  for (int64_t oy = 0; oy < g.OH;) {
    const int rows = oy + R <= g.OH ? R : 1;
    if (rows == R)
      thin_both_rows<O, R>(g, r, p, planes, oy, out);
    else
      thin_both_rows<O, 1>(g, r, p, planes, oy, out);
    // Back to nhwc: pixel by pixel, its O channels.
    for (int i = 0; i < rows; ++i, ++oy) {
      float* yrow = r.y + (n * g.OH + oy) * g.OW * O;
      for (int64_t ox = 0; ox < g.OW; ++ox)
        for (int o = 0; o < O; ++o) yrow[ox * O + o] = out[(i * O + o) * p.out_width + ox];
    }
  }
}

MT_CPU_CLONES void thin_both_images(const Geom& g, const Rows& r, int64_t begin, int64_t end) {
  const Planes p = plane_geometry(g);
  thread_local std::vector<float> planes, out;  // only ever grow: steady-state calls allocate nothing
  planes.resize(std::max<size_t>(planes.size(), g.C * p.height * p.width));
  out.resize(std::max<size_t>(out.size(), 8 * p.out_width));  // R * O <= 8 rows
  for (int64_t n = begin; n < end; ++n) {
    switch (g.O) {
      case 1: thin_both_image<1>(g, r, n, planes.data(), out.data()); break;
      case 2: thin_both_image<2>(g, r, n, planes.data(), out.data()); break;
      case 3: thin_both_image<3>(g, r, n, planes.data(), out.data()); break;
      case 4: thin_both_image<4>(g, r, n, planes.data(), out.data()); break;
      case 5: thin_both_image<5>(g, r, n, planes.data(), out.data()); break;
      case 6: thin_both_image<6>(g, r, n, planes.data(), out.data()); break;
      case 7: thin_both_image<7>(g, r, n, planes.data(), out.data()); break;
      default: thin_both_image<8>(g, r, n, planes.data(), out.data()); break;
    }
  }
}

bool thin_both_sides(int64_t C, int64_t O, const Conv2dDesc& d) {
  return C <= kThinInMax && O <= kThinOutMax && d.stride_h == 1 && d.stride_w == 1;
}

bool dense_nhwc(const Tensor& t) {
  if (t.layout() != Layout::nhwc || t.shape().rank() != 4) return false;
  const int64_t C = t.dim(1), H = t.dim(2), W = t.dim(3);
  return t.strides() == std::vector<int64_t>{H * W * C, 1, W * C, C};
}

bool dense_oihw(const Tensor& w) {
  if (w.shape().rank() != 4) return false;
  const int64_t C = w.dim(1), KH = w.dim(2), KW = w.dim(3);
  return w.strides() == std::vector<int64_t>{C * KH * KW, KH * KW, KW, 1};
}

std::atomic<bool>& enabled() {
  static std::atomic<bool> on{true};
  return on;
}

}  // namespace

bool thin_conv_enabled() { return enabled(); }
void set_thin_conv_enabled(bool on) { enabled() = on; }

bool thin_conv_applies(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& y) {
  if (!thin_conv_enabled() || d.groups != 1 || d.dilation_h != 1 || d.dilation_w != 1) return false;
  if (x.dtype() != DType::f32 || w.dtype() != DType::f32 || y.dtype() != DType::f32) return false;
  if (!dense_nhwc(x) || !dense_nhwc(y) || !dense_oihw(w) || w.dim(1) != x.dim(1)) return false;
  const int64_t C = x.dim(1), O = w.dim(0);
  const bool thin_out = O <= kThinOutMax && C % 16 == 0;
  // Kernels up to 3x3 only: on an ImageNet stem (3 -> 64, 7x7, stride 2, 224x224, batch 32)
  // oneDNN took 27.9 ms and these loops 71.5 (bench/bench_conv_thin.cpp, 2026-12-08, Intel Xeon).
  const bool thin_in = C <= kThinInMax && O % 16 == 0 && O <= 64 && w.dim(2) <= 3 && w.dim(3) <= 3;
  return thin_out || thin_in || thin_both_sides(C, O, d);
}

void thin_conv_forward(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y,
                       bool relu) {
  const Geom g = geometry(d, x, w, y);
  // oneDNN would have rejected inconsistent shapes; these loops trust them, so check here.
  const int64_t want_h = (g.H + 2 * g.ph - g.KH) / g.sh + 1, want_w = (g.W + 2 * g.pw - g.KW) / g.sw + 1;
  MT_CHECK(y.dim(0) == x.dim(0) && g.OH == want_h && g.OW == want_w && want_h > 0 && want_w > 0 &&
               (!b.defined() || b.numel() == g.O),
           ShapeError, "[conv2d_fwd] convolution of ", x.shape().str(), " by ", w.shape().str(), " cannot give ",
           y.shape().str());
  const bool thin_out = g.O <= kThinOutMax && g.C % 16 == 0;
  const bool thin_both = thin_both_sides(g.C, g.O, d);  // never with thin_out: C <= 8 is no multiple of 16
  // Repacked weights and a zero bias live in per-thread buffers that only ever grow: a
  // steady-state call allocates nothing.
  thread_local std::vector<float> wt, bias;
  wt.resize(w.numel());
  bias.assign(g.O, 0.0f);
  if (b.defined()) std::memcpy(bias.data(), b.data<float>(), g.O * sizeof(float));
  const float* pw = w.data<float>();
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t ky = 0; ky < g.KH; ++ky)
        for (int64_t kx = 0; kx < g.KW; ++kx) {
          const int64_t tap = ky * g.KW + kx;
          const int64_t to = thin_out ? (tap * g.O + o) * g.C + c : (tap * g.C + c) * g.O + o;
          wt[to] = pw[((o * g.C + c) * g.KH + ky) * g.KW + kx];
        }
  const Rows r{x.data<float>(), wt.data(), bias.data(), y.data<float>(), relu};
  const int64_t row_cost = g.OW * g.O * g.C * g.KH * g.KW;
  if (thin_both) {  // weights as thin input's: [kH][kW][C][O]
    parallel_ranges(x.dim(0), [&](int64_t begin, int64_t end) { thin_both_images(g, r, begin, end); },
                    row_cost * g.OH);
    return;
  }
  const int64_t rows = x.dim(0) * g.OH;
  parallel_ranges(rows, [&](int64_t begin, int64_t end) {
    if (thin_out)
      thin_out_rows(g, r, begin, end);
    else
      thin_in_rows(g, r, begin, end);
  }, row_cost);
}

}  // namespace mt::cpu
