// Elementwise product, with b either of a's shape or per channel ([C], [N, C] or [N, C, 1, 1])
// broadcast over a [N, C, H, W] (gates, compactor masks, squeeze-excitation). OpenMP loops in the
// output's layout.
#include <algorithm>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"

namespace mt {
namespace {

// Where b's value for (n, c) lives: b[c] or b[n, c]. [N, C, 1, 1] lies as [N, C] in nchw and in
// nhwc alike, so it is read (and its gradient written) as [N, C].
struct ChannelScale {
  const float* p;
  int64_t n_stride;
  float at(int64_t n, int64_t c) const { return p[n * n_stride + c]; }
};

bool per_channel(const Tensor& a, const Tensor& b) {
  if (a.rank() != 4 || b.shape() == a.shape()) return false;
  const bool ok = (b.rank() == 1 && b.dim(0) == a.dim(1)) ||
                  (b.rank() == 2 && b.dim(0) == a.dim(0) && b.dim(1) == a.dim(1)) ||
                  (b.rank() == 4 && b.dim(0) == a.dim(0) && b.dim(1) == a.dim(1) &&
                   b.dim(2) == 1 && b.dim(3) == 1);
  MT_CHECK(ok, ShapeError, "[mul] b ", b.shape().str(), " must equal a ", a.shape().str(),
           " or be per channel ([C], [N, C] or [N, C, 1, 1])");
  return true;
}

ChannelScale channel_scale(const Tensor& b) {
  return {b.data<float>(), b.rank() >= 2 ? b.dim(1) : 0};
}

// y[n, c, h, w] = a[n, c, h, w] * s(n, c); a and y lie alike.
void scale_channels(const Tensor& a, ChannelScale s, Tensor& y) {
  const int64_t N = a.dim(0), C = a.dim(1), HW = a.dim(2) * a.dim(3);
  const float* pa = a.data<float>();
  float* py = y.data<float>();
  const bool nhwc = a.stride(1) == 1 && C > 1;
  cpu::parallel_for(
      N * (nhwc ? HW : C),
      [&](int64_t r) {
        if (nhwc) {  // row r is one pixel: C contiguous channels
          const int64_t n = r / HW;
          const float* row = pa + r * C;
          float* out = py + r * C;
          for (int64_t c = 0; c < C; ++c) out[c] = row[c] * s.at(n, c);
        } else {  // row r is one (n, c) plane
          const float v = s.at(r / C, r % C);
          for (int64_t i = 0; i < HW; ++i) py[r * HW + i] = pa[r * HW + i] * v;
        }
      },
      nhwc ? C : HW);
}

// db(n, c) = sum over h, w of dy * a (then over n for a [C] b); dy and a lie alike.
void reduce_channels(const Tensor& dy, const Tensor& a, Tensor& db) {
  const int64_t N = a.dim(0), C = a.dim(1), HW = a.dim(2) * a.dim(3);
  const float* pg = dy.data<float>();
  const float* pa = a.data<float>();
  const bool nhwc = a.stride(1) == 1 && C > 1;
  Tensor partial = Tensor::empty({N, C}, DType::f64);  // [N, C]
  double* part = partial.data<double>();
  cpu::parallel_for(
      N,
      [&](int64_t n) {
        double* acc = part + n * C;
        std::fill(acc, acc + C, 0.0);
        for (int64_t i = 0; i < HW; ++i)
          for (int64_t c = 0; c < C; ++c) {
            const int64_t off = nhwc ? (n * HW + i) * C + c : (n * C + c) * HW + i;
            acc[c] += static_cast<double>(pg[off]) * pa[off];
          }
      },
      C * HW);
  float* out = db.data<float>();
  if (db.rank() >= 2) {  // [N, C] or [N, C, 1, 1]
    for (int64_t i = 0; i < N * C; ++i) out[i] = static_cast<float>(part[i]);
    return;
  }
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n) s += part[n * C + c];
    out[c] = static_cast<float>(s);
  }
}

void multiply_flat(const Tensor& a, const Tensor& b, Tensor& y) {
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* py = y.data<float>();
  cpu::parallel_ranges(y.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) py[i] = pa[i] * pb[i];
  });
}

}  // namespace

void CpuBackend::mul_fwd(const Tensor& a, const Tensor& b, Tensor& y) {
  cpu::check_f32("mul_fwd", {&a, &b, &y});
  cpu::check_shape("mul_fwd", a, y);
  const Tensor aa = cpu::in_order_of(a, y);
  if (per_channel(a, b)) {
    scale_channels(aa, channel_scale(b), y);
    return;
  }
  multiply_flat(aa, cpu::in_order_of(b, y), y);
}

void CpuBackend::mul_bwd(const Tensor& a, const Tensor& b, const Tensor& dy, Tensor& da,
                         Tensor& db) {
  cpu::check_f32("mul_bwd", {&a, &b, &dy, &da, &db});
  cpu::check_shape("mul_bwd", a, dy);
  const bool broadcast = per_channel(a, b);
  if (da.defined()) {
    cpu::check_shape("mul_bwd", a, da);
    const Tensor g = cpu::in_order_of(dy, da);
    if (broadcast)
      scale_channels(g, channel_scale(b), da);
    else
      multiply_flat(g, cpu::in_order_of(b, da), da);
  }
  if (!db.defined()) return;
  cpu::check_shape("mul_bwd", b, db);
  if (broadcast) {
    reduce_channels(cpu::in_order_of(dy, a), a, db);
    return;
  }
  multiply_flat(cpu::in_order_of(dy, db), cpu::in_order_of(a, db), db);
}

}  // namespace mt
