// Batch norm as OpenMP loops over nhwc rows (or nchw planes). oneDNN 2.6 has a fast jit only for
// nhwc with C a multiple of 16; other widths fall to its generic nspc kernel, about 10x slower,
// and pruned models have such widths everywhere. These loops run at memory speed for any C:
// the forward reads x twice (statistics, normalise), the backward reads x and dy twice.
//
// Statistics accumulate in float over blocks of rows and then in double, from a per-channel shift
// (the first row), so E[x^2] - E[x]^2 does not cancel catastrophically.
#include <omp.h>

#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"

namespace mt {
namespace {

constexpr int64_t kBlockRows = 64;

// x [N, C, H, W] seen as `outer` runs of `inner` contiguous elements: nhwc has N*H*W rows of C
// channels, nchw has N*C planes of H*W positions.
struct Geometry {
  bool nhwc;
  int64_t C, M;  // channels, positions per channel (N * H * W)
  int64_t outer() const { return nhwc ? M : M / hw * C; }
  int64_t hw;
};

Geometry geometry_of(const Tensor& x) {
  const int64_t C = x.dim(1), hw = x.dim(2) * x.dim(3);
  return {x.stride(1) == 1 && C > 1, C, x.dim(0) * hw, hw};
}

// The per-channel terms whose sums the statistics need: (x - k, (x - k)^2) from a shift k for the
// forward, (dy, dy * (x - mean)) for the backward.
struct ShiftTerm {
  const float* k;
  std::pair<float, float> operator()(int64_t c, float u, float) const {
    const float t = u - k[c];
    return {t, t * t};
  }
};
struct GradTerm {
  const float* mean;
  std::pair<float, float> operator()(int64_t c, float g, float x) const {
    return {g, g * (x - mean[c])};
  }
};

// Adds the sums of term over rows [begin, end) of u (and v, same layout) to d1/d2 [C], in float
// over blocks of rows (f1/f2 [C] scratch) and then in double.
template <typename Term>
[[gnu::always_inline]] inline void sum_rows(const Geometry& g, const float* u, const float* v,
                                            Term term, int64_t begin, int64_t end, float* f1,
                                            float* f2, double* d1, double* d2) {
  const int64_t C = g.C;
  if (!v) v = u;
  if (g.nhwc) {
    for (int64_t r0 = begin; r0 < end; r0 += kBlockRows) {
      std::fill(f1, f1 + C, 0.0f);
      std::fill(f2, f2 + C, 0.0f);
      for (int64_t r = r0; r < std::min(end, r0 + kBlockRows); ++r)
        for (int64_t c = 0; c < C; ++c) {
          const auto [a, b] = term(c, u[r * C + c], v[r * C + c]);
          f1[c] += a;
          f2[c] += b;
        }
      for (int64_t c = 0; c < C; ++c) d1[c] += f1[c], d2[c] += f2[c];
    }
    return;
  }
  for (int64_t p = begin; p < end; ++p) {  // one (n, c) plane of hw positions
    const int64_t c = p % C;
    float a1 = 0, a2 = 0;
#pragma omp simd reduction(+ : a1, a2)
    for (int64_t i = 0; i < g.hw; ++i) {
      const auto [a, b] = term(c, u[p * g.hw + i], v[p * g.hw + i]);
      a1 += a;
      a2 += b;
    }
    d1[c] += a1;
    d2[c] += a2;
  }
}

MT_CPU_CLONES void sum_rows_shift(const Geometry& g, const float* x, const float* k, int64_t begin,
                                  int64_t end, float* f, double* d) {
  sum_rows(g, x, nullptr, ShiftTerm{k}, begin, end, f, f + g.C, d, d + g.C);
}

MT_CPU_CLONES void sum_rows_grad(const Geometry& g, const float* dy, const float* x,
                                 const float* mean, int64_t begin, int64_t end, float* f,
                                 double* d) {
  sum_rows(g, dy, x, GradTerm{mean}, begin, end, f, f + g.C, d, d + g.C);
}

// Per-channel sums s1, s2 [C]: each thread runs rows(begin, end, f, d) on its share of the rows
// with its own slices f (float [2C]) and d (double [2C]); the slices are added at the end.
template <typename Rows>
void channel_sums(const Geometry& g, Rows rows_fn, double* s1, double* s2) {
  const int64_t C = g.C;
  const int nt = omp_get_max_threads();
  Tensor partial = Tensor::empty({nt, 2 * C}, DType::f64);  // [T, 2C]
  Tensor block = Tensor::empty({nt, 2 * C});                // [T, 2C]
  double* part = partial.data<double>();
  float* blk = block.data<float>();
  std::fill(part, part + nt * 2 * C, 0.0);
  const int64_t rows = g.outer();
#pragma omp parallel num_threads(nt) if (g.M * C >= cpu::kSerialBelow)
  {
    const int t = omp_get_thread_num(), used = omp_get_num_threads();
    const int64_t chunk = (rows + used - 1) / used;
    const int64_t begin = std::min(rows, t * chunk), end = std::min(rows, begin + chunk);
    if (begin < end) rows_fn(begin, end, blk + t * 2 * C, part + t * 2 * C);
  }
  for (int64_t c = 0; c < C; ++c) {
    s1[c] = s2[c] = 0;
    for (int t = 0; t < nt; ++t) s1[c] += part[t * 2 * C + c], s2[c] += part[t * 2 * C + C + c];
  }
}

// out = p[c] * u + q[c] * v + r[c] over rows [begin, end) (v may be null: q unused).
MT_CPU_CLONES void affine_rows(const Geometry& g, const float* u, const float* v, const float* p,
                               const float* q, const float* r, float* out, int64_t begin,
                               int64_t end) {
  const int64_t C = g.C, hw = g.hw;
  if (g.nhwc) {
    for (int64_t row = begin; row < end; ++row) {
      const float* ur = u + row * C;
      float* o = out + row * C;
      if (v) {
        const float* vr = v + row * C;
        for (int64_t c = 0; c < C; ++c) o[c] = p[c] * ur[c] + q[c] * vr[c] + r[c];
      } else {
        for (int64_t c = 0; c < C; ++c) o[c] = p[c] * ur[c] + r[c];
      }
    }
    return;
  }
  for (int64_t plane = begin; plane < end; ++plane) {
    const int64_t c = plane % C, off = plane * hw;
    const float pc = p[c], qc = v ? q[c] : 0.0f, rc = r[c];
    const float* vp = v ? v + off : u + off;
    for (int64_t i = 0; i < hw; ++i) out[off + i] = pc * u[off + i] + qc * vp[i] + rc;
  }
}

void channel_affine(const Geometry& g, const float* u, const float* v, const float* p,
                    const float* q, const float* r, float* out) {
  cpu::parallel_ranges(
      g.outer(), [&](int64_t b, int64_t e) { affine_rows(g, u, v, p, q, r, out, b, e); },
      g.nhwc ? g.C : g.hw);
}

void check_args(std::string_view op, const Tensor& x, std::initializer_list<const Tensor*> cs) {
  cpu::check_f32(op, x);
  MT_CHECK(x.rank() == 4, ShapeError, "[", op, "] x ", x.shape().str(), " must be rank 4");
  for (const Tensor* c : cs) {
    if (!c->defined()) continue;
    cpu::check_f32(op, *c);
    MT_CHECK(c->shape() == Shape{x.dim(1)}, ShapeError, "[", op, "] per-channel tensor ",
             c->shape().str(), " for x ", x.shape().str());
  }
}

float value_or(const Tensor& t, int64_t c, float fallback) {
  return t.defined() ? t.data<float>()[c] : fallback;
}

}  // namespace

void CpuBackend::batchnorm_fwd_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                     const Tensor& beta, Tensor& running_mean,
                                     Tensor& running_var, Tensor& y, Tensor& save_mean,
                                     Tensor& save_invstd) {
  constexpr std::string_view op = "batchnorm_fwd_train";
  check_args(op, x, {&gamma, &beta, &running_mean, &running_var, &save_mean, &save_invstd});
  cpu::check_f32(op, y);
  cpu::check_shape(op, x, y);
  const Geometry g = geometry_of(x);
  const int64_t C = g.C, M = g.M;
  MT_CHECK(M > 0, ShapeError, "[", op, "] x ", x.shape().str(), " has no positions per channel");
  Tensor sums = Tensor::empty({2, C}, DType::f64);  // [2, C]
  Tensor coef = Tensor::empty({3, C});              // [3, C]: shift, scale, offset
  double* s1 = sums.data<double>();
  double* s2 = s1 + C;
  float* k = coef.data<float>();
  float* scale = k + C;
  float* offset = scale + C;
  const float* px = x.data<float>();
  for (int64_t c = 0; c < C; ++c) k[c] = px[g.nhwc ? c : c * g.hw];
  channel_sums(
      g, [&](int64_t b, int64_t e, float* f, double* acc) { sum_rows_shift(g, px, k, b, e, f, acc); },
      s1, s2);
  const double unbias = M > 1 ? static_cast<double>(M) / (M - 1) : 1.0, m = d.momentum;
  for (int64_t c = 0; c < C; ++c) {
    const double dm = s1[c] / M, mean = k[c] + dm;
    const double var = std::max(0.0, s2[c] / M - dm * dm);
    const double invstd = 1 / std::sqrt(var + d.eps);
    scale[c] = static_cast<float>(value_or(gamma, c, 1) * invstd);
    offset[c] = static_cast<float>(value_or(beta, c, 0) - mean * scale[c]);
    if (save_mean.defined()) save_mean.data<float>()[c] = static_cast<float>(mean);
    if (save_invstd.defined()) save_invstd.data<float>()[c] = static_cast<float>(invstd);
    // PyTorch: running = (1 - m) * running + m * batch, with the unbiased variance.
    if (running_mean.defined()) {
      float& rm = running_mean.data<float>()[c];
      rm = static_cast<float>((1 - m) * rm + m * mean);
    }
    if (running_var.defined()) {
      float& rv = running_var.data<float>()[c];
      rv = static_cast<float>((1 - m) * rv + m * var * unbias);
    }
  }
  Tensor out = cpu::output_in_layout(y, x.layout());
  channel_affine(g, px, nullptr, scale, nullptr, offset, out.data<float>());
  if (!out.shares_memory(y)) cpu::copy_into(out, y);
}

void CpuBackend::batchnorm_fwd_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                    const Tensor& beta, const Tensor& running_mean,
                                    const Tensor& running_var, Tensor& y) {
  constexpr std::string_view op = "batchnorm_fwd_eval";
  check_args(op, x, {&gamma, &beta, &running_mean, &running_var});
  cpu::check_f32(op, y);
  cpu::check_shape(op, x, y);
  MT_CHECK(running_mean.defined() && running_var.defined(), BackendError, "[", op,
           "] eval mode needs running statistics");
  const Geometry g = geometry_of(x);
  Tensor coef = Tensor::empty({2, g.C});  // [2, C]: scale, offset
  float* scale = coef.data<float>();
  float* offset = scale + g.C;
  for (int64_t c = 0; c < g.C; ++c) {
    const double invstd = 1 / std::sqrt(double(running_var.data<float>()[c]) + d.eps);
    scale[c] = static_cast<float>(value_or(gamma, c, 1) * invstd);
    offset[c] = static_cast<float>(value_or(beta, c, 0) - running_mean.data<float>()[c] * double(scale[c]));
  }
  Tensor out = cpu::output_in_layout(y, x.layout());
  channel_affine(g, x.data<float>(), nullptr, scale, nullptr, offset, out.data<float>());
  if (!out.shares_memory(y)) cpu::copy_into(out, y);
}

// With xhat = (x - mean) * invstd and sums over the M positions of a channel:
//   dbeta = sum dy, dgamma = sum dy * xhat,
//   dx = gamma * invstd * (dy - dbeta / M - xhat * dgamma / M),
// which is k1 * dy + k2 * x + k3 per channel.
void CpuBackend::batchnorm_bwd(const BatchNormDesc&, const Tensor& x, const Tensor& dy,
                               const Tensor& gamma, const Tensor& save_mean,
                               const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                               Tensor& dbeta) {
  constexpr std::string_view op = "batchnorm_bwd";
  check_args(op, x, {&gamma, &save_mean, &save_invstd, &dgamma, &dbeta});
  cpu::check_f32(op, {&dy, &dx});
  cpu::check_shape(op, x, dy);
  MT_CHECK(save_mean.defined() && save_invstd.defined(), BackendError, "[", op,
           "] needs the mean and invstd saved by batchnorm_fwd_train");
  const Geometry g = geometry_of(x);
  const int64_t C = g.C;
  const double M = static_cast<double>(g.M);
  const Tensor grad = cpu::in_layout(dy, x.layout());
  Tensor sums = Tensor::empty({2, C}, DType::f64);  // [2, C]
  Tensor coef = Tensor::empty({3, C});              // [3, C]: k1, k2, k3
  double* s1 = sums.data<double>();
  double* s2 = s1 + C;
  const float* mean = save_mean.data<float>();
  const float* pg = grad.data<float>();
  const float* px = x.data<float>();
  channel_sums(
      g,
      [&](int64_t b, int64_t e, float* f, double* acc) {
        sum_rows_grad(g, pg, px, mean, b, e, f, acc);
      },
      s1, s2);
  float* k1 = coef.data<float>();
  float* k2 = k1 + C;
  float* k3 = k2 + C;
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = save_invstd.data<float>()[c], gm = value_or(gamma, c, 1);
    if (dgamma.defined()) dgamma.data<float>()[c] = static_cast<float>(s2[c] * invstd);
    if (dbeta.defined()) dbeta.data<float>()[c] = static_cast<float>(s1[c]);
    const double a = gm * invstd, b = -gm * invstd * invstd * invstd * s2[c] / M;
    k1[c] = static_cast<float>(a);
    k2[c] = static_cast<float>(b);
    k3[c] = static_cast<float>(-a * s1[c] / M - b * mean[c]);
  }
  if (!dx.defined()) return;
  cpu::check_shape(op, x, dx);
  Tensor out = cpu::output_in_layout(dx, x.layout());
  channel_affine(g, grad.data<float>(), x.data<float>(), k1, k2, k3, out.data<float>());
  if (!out.shares_memory(dx)) cpu::copy_into(out, dx);
}

}  // namespace mt
