#include "kernels/cpu/batchnorm_loops.h"

#include <omp.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "kernels/cpu/cpu_util.h"

namespace mt::cpu {
namespace {

constexpr int64_t kGroup = 16;       // nhwc rows per replicated pattern
constexpr int64_t kBlockRows = 512;  // rows summed in float before going to double

// The terms to sum, given the channel's parameter a (and for the masked gradient its forward's
// scale s and offset o): (x - a, (x - a)^2), (dy, dy * (x - a)), or the latter where the fused
// ReLU let s * x + o through and 0 elsewhere. kParams: how many of a, s, o the term reads.
struct ShiftTerm {
  static constexpr int kParams = 1;
  std::pair<float, float> operator()(float a, float u, float, float, float) const {
    const float t = u - a;
    return {t, t * t};
  }
};
struct GradTerm {
  static constexpr int kParams = 1;
  std::pair<float, float> operator()(float a, float g, float x, float, float) const { return {g, g * (x - a)}; }
};
struct MaskedGradTerm {
  static constexpr int kParams = 3;
  std::pair<float, float> operator()(float a, float g, float x, float s, float o) const {
    const float m = s * x + o > 0 ? g : 0.0f;
    return {m, m * (x - a)};
  }
};

// f1[j] += term's first value at j, f2[j] += its second, over L replicated slots. The sums are
// restrict: without that promise GCC 12 leaves a loop with a select (the masked term) scalar.
template <typename Term>
[[gnu::always_inline]] inline void add_terms(int64_t L, const float* a, const float* s, const float* o,
                                             const float* u, const float* v, float* __restrict f1,
                                             float* __restrict f2) {
  const Term term;
  for (int64_t j = 0; j < L; ++j) {
    const auto [x1, x2] = term(a[j], u[j], v[j], s[j], o[j]);
    f1[j] += x1;
    f2[j] += x2;
  }
}

// Adds the sums of term over rows [begin, end) to d [2C] (s1 then s2). f [2 * kGroup * C] is float
// scratch; rep [Term::kParams, kGroup * C] holds the channel parameters a (then s, o) replicated
// over kGroup rows. A term without s and o is handed a in their place and never reads it.
template <typename Term>
[[gnu::always_inline]] inline void sum_rows(const ChannelGeometry& g, const float* u,
                                            const float* v, const float* rep, int64_t begin,
                                            int64_t end, float* f, double* d) {
  const float* rs = Term::kParams == 3 ? rep + kGroup * g.C : rep;
  const float* ro = Term::kParams == 3 ? rep + 2 * kGroup * g.C : rep;
  const int64_t C = g.C, L = kGroup * C;
  const Term term;
  if (!g.nhwc) {
    for (int64_t p = begin; p < end; ++p) {  // one (n, c) plane
      const float a = rep[p % C], sc = rs[p % C], oc = ro[p % C];
      const float* up = u + p * g.hw;
      const float* vp = v + p * g.hw;
      float a1 = 0, a2 = 0;
#pragma omp simd reduction(+ : a1, a2)
      for (int64_t i = 0; i < g.hw; ++i) {
        const auto [x1, x2] = term(a, up[i], vp[i], sc, oc);
        a1 += x1;
        a2 += x2;
      }
      d[p % C] += a1;
      d[C + p % C] += a2;
    }
    return;
  }
  float* f1 = f;
  float* f2 = f + L;
  for (int64_t r0 = begin; r0 < end; r0 += kBlockRows) {
    const int64_t rend = std::min(end, r0 + kBlockRows);
    std::fill(f, f + 2 * L, 0.0f);
    int64_t r = r0;
    for (; r + kGroup <= rend; r += kGroup) {
      const float* ub = u + r * C;
      const float* vb = v + r * C;
      add_terms<Term>(L, rep, rs, ro, ub, vb, f1, f2);
    }
    for (; r < rend; ++r)
      for (int64_t c = 0; c < C; ++c) {
        const auto [x1, x2] = term(rep[c], u[r * C + c], v[r * C + c], rs[c], ro[c]);
        f1[c] += x1;
        f2[c] += x2;
      }
    for (int64_t j = 0; j < L; j += C)  // fold the kGroup row slots into their channels
      for (int64_t c = 0; c < C; ++c) d[c] += f1[j + c], d[C + c] += f2[j + c];
  }
}

MT_CPU_CLONES void shifted_rows(const ChannelGeometry& g, const float* x, const float* rep,
                                int64_t begin, int64_t end, float* f, double* d) {
  sum_rows<ShiftTerm>(g, x, x, rep, begin, end, f, d);
}

MT_CPU_CLONES void grad_rows(const ChannelGeometry& g, const float* dy, const float* x,
                             const float* rep, int64_t begin, int64_t end, float* f, double* d) {
  sum_rows<GradTerm>(g, dy, x, rep, begin, end, f, d);
}

MT_CPU_CLONES void masked_grad_rows(const ChannelGeometry& g, const float* dy, const float* x,
                                    const float* rep, int64_t begin, int64_t end, float* f, double* d) {
  sum_rows<MaskedGradTerm>(g, dy, x, rep, begin, end, f, d);
}

// Replicates a per-channel vector over kGroup rows into `out` [kGroup * C].
void replicate(const float* a, int64_t C, float* out) {
  for (int64_t j = 0; j < kGroup * C; ++j) out[j] = a ? a[j % C] : 0.0f;
}

// Runs rows_fn(begin, end, f, d) per thread with its own scratch, then adds the per-thread sums.
template <typename Rows>
void reduce_rows(const ChannelGeometry& g, Rows rows_fn, double* s1, double* s2) {
  const int64_t C = g.C, L = kGroup * C;
  const int nt = omp_get_max_threads();
  Tensor partial = Tensor::empty({nt, 2 * C}, DType::f64);  // [T, 2C]
  Tensor scratch = Tensor::empty({nt, 2 * L});              // [T, 2L]
  double* part = partial.data<double>();
  std::fill(part, part + nt * 2 * C, 0.0);
  const int64_t rows = g.rows();
#pragma omp parallel num_threads(nt) if (g.M * C >= kSerialBelow)
  {
    const int64_t t = omp_get_thread_num(), used = omp_get_num_threads();
    const int64_t chunk = (rows + used - 1) / used;
    const int64_t begin = std::min(rows, t * chunk), end = std::min(rows, begin + chunk);
    if (begin < end) rows_fn(begin, end, scratch.data<float>() + t * 2 * L, part + t * 2 * C);
  }
  for (int64_t c = 0; c < C; ++c) {
    s1[c] = s2[c] = 0;
    for (int t = 0; t < nt; ++t) s1[c] += part[t * 2 * C + c], s2[c] += part[t * 2 * C + C + c];
  }
}

// floor = 0 clamps (fused ReLU); -inf leaves values alone. One code path, no per-element branch.
MT_CPU_CLONES void affine_rows(const ChannelGeometry& g, const float* u, const float* v,
                               const float* P, const float* Q, const float* R, float* out,
                               int64_t begin, int64_t end, float floor) {
  const int64_t C = g.C, L = kGroup * C, hw = g.hw;
  if (!g.nhwc) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t c = p % C, off = p * hw;
      const float pc = P[c], qc = Q[c], rc = R[c];
      const float* vp = v ? v + off : u + off;
      for (int64_t i = 0; i < hw; ++i) out[off + i] = std::max(floor, pc * u[off + i] + qc * vp[i] + rc);
    }
    return;
  }
  int64_t r = begin;
  for (; r + kGroup <= end; r += kGroup) {
    const int64_t off = r * C;
    if (v) {
      for (int64_t j = 0; j < L; ++j) out[off + j] = std::max(floor, P[j] * u[off + j] + Q[j] * v[off + j] + R[j]);
    } else {
      for (int64_t j = 0; j < L; ++j) out[off + j] = std::max(floor, P[j] * u[off + j] + R[j]);
    }
  }
  for (; r < end; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t i = r * C + c;
      out[i] = std::max(floor, P[c] * u[i] + (v ? Q[c] * v[i] : 0.0f) + R[c]);
    }
}

// out = P (m dy) + Q x + R with m = [S x + O > 0]: dx of a batch norm through its fused ReLU.
MT_CPU_CLONES void masked_affine_rows(const ChannelGeometry& g, const float* dy, const float* x,
                                      const float* P, const float* Q, const float* R, const float* S,
                                      const float* O, float* out, int64_t begin, int64_t end) {
  const int64_t C = g.C, L = kGroup * C, hw = g.hw;
  // Both loads unconditional, so that the select vectorises.
  auto at = [&](int64_t i, int64_t c) {
    const float xi = x[i], gi = dy[i];
    const float m = S[c] * xi + O[c] > 0 ? gi : 0.0f;
    return P[c] * m + Q[c] * xi + R[c];
  };
  if (!g.nhwc) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t c = p % C, off = p * hw;
      for (int64_t i = off; i < off + hw; ++i) out[i] = at(i, c);
    }
    return;
  }
  int64_t r = begin;
  for (; r + kGroup <= end; r += kGroup) {
    const int64_t off = r * C;
    for (int64_t j = 0; j < L; ++j) out[off + j] = at(off + j, j);
  }
  for (; r < end; ++r)
    for (int64_t c = 0; c < C; ++c) out[r * C + c] = at(r * C + c, c);
}

}  // namespace

ChannelGeometry channel_geometry(const Tensor& x) {
  const int64_t C = x.dim(1), hw = x.dim(2) * x.dim(3);
  return {x.stride(1) == 1 && C > 1, C, hw, x.dim(0) * hw};
}

void shifted_sums(const ChannelGeometry& g, const float* x, const float* k, double* s1,
                  double* s2) {
  Tensor rep = Tensor::empty({kGroup * g.C});  // [16 * C]
  replicate(k, g.C, rep.data<float>());
  const float* pr = rep.data<float>();
  reduce_rows(
      g, [&](int64_t b, int64_t e, float* f, double* d) { shifted_rows(g, x, pr, b, e, f, d); }, s1,
      s2);
}

void grad_sums(const ChannelGeometry& g, const float* dy, const float* x, const float* mean,
               double* s1, double* s2) {
  Tensor rep = Tensor::empty({kGroup * g.C});  // [16 * C]
  replicate(mean, g.C, rep.data<float>());
  const float* pr = rep.data<float>();
  reduce_rows(
      g, [&](int64_t b, int64_t e, float* f, double* d) { grad_rows(g, dy, x, pr, b, e, f, d); },
      s1, s2);
}

void masked_grad_sums(const ChannelGeometry& g, const float* dy, const float* x, const float* mean,
                      const float* scale, const float* offset, double* s1, double* s2) {
  const int64_t L = kGroup * g.C;
  Tensor rep = Tensor::empty({3, L});  // [3, 16 * C]: mean, scale, offset
  float* pr = rep.data<float>();
  replicate(mean, g.C, pr);
  replicate(scale, g.C, pr + L);
  replicate(offset, g.C, pr + 2 * L);
  reduce_rows(
      g, [&](int64_t b, int64_t e, float* f, double* d) { masked_grad_rows(g, dy, x, pr, b, e, f, d); },
      s1, s2);
}

void channel_affine(const ChannelGeometry& g, const float* u, const float* v, const float* p,
                    const float* q, const float* r, float* out, bool relu) {
  const float floor = relu ? 0.0f : -std::numeric_limits<float>::infinity();
  const int64_t L = kGroup * g.C;
  Tensor rep = Tensor::empty({3, L});  // [3, 16 * C]: p, q, r replicated
  float* P = rep.data<float>();
  replicate(p, g.C, P);
  replicate(v ? q : nullptr, g.C, P + L);
  replicate(r, g.C, P + 2 * L);
  cpu::parallel_ranges(
      g.rows(), [&](int64_t b, int64_t e) { affine_rows(g, u, v, P, P + L, P + 2 * L, out, b, e, floor); },
      g.row_len());
}

void masked_channel_affine(const ChannelGeometry& g, const float* dy, const float* x, const float* p,
                           const float* q, const float* r, const float* scale, const float* offset, float* out) {
  const int64_t L = kGroup * g.C;
  Tensor rep = Tensor::empty({5, L});  // [5, 16 * C]: p, q, r, scale, offset replicated
  float* P = rep.data<float>();
  const float* per_channel[] = {p, q, r, scale, offset};
  for (int i = 0; i < 5; ++i) replicate(per_channel[i], g.C, P + i * L);
  cpu::parallel_ranges(
      g.rows(),
      [&](int64_t b, int64_t e) {
        masked_affine_rows(g, dy, x, P, P + L, P + 2 * L, P + 3 * L, P + 4 * L, out, b, e);
      },
      g.row_len());
}

}  // namespace mt::cpu
