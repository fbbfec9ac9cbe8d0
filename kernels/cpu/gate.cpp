// The FiGS gate: y = x * g[c] (relu(x) * g[c] with a fused ReLU), one gate per channel from
// gate_value() in core/backend.h. OpenMP loops in the output's layout: channels-last rows (nhwc,
// or [N, C]) or nchw planes. The backward writes dx and sums dy * x per channel in one pass.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"

namespace mt {
namespace {

void check_gate_shapes(std::string_view op, const Tensor& x, const Shape& per_channel) {
  MT_CHECK(x.rank() == 4 || x.rank() == 2, ShapeError, "[", op, "] x ", x.shape().str(),
           " must be [N, C, H, W] or [N, C]");
  MT_CHECK(per_channel == Shape{x.dim(1)}, ShapeError, "[", op, "] logits ", per_channel.str(),
           " for x ", x.shape().str(), ": expected [", x.dim(1), "]");
}

// Whether t's C values of one (n, h, w) lie next to each other ([N, C] is one row per sample).
bool channels_last(const Tensor& t) { return t.rank() == 2 || t.stride(1) == 1; }

int64_t pixels(const Tensor& t) { return t.rank() == 4 ? t.dim(2) * t.dim(3) : 1; }

// max(x, floor(relu)) is relu(x), or x itself: one branch-free loop serves both (NaN stays NaN).
float floor_of(bool relu) { return relu ? 0.0f : -INFINITY; }

MT_CPU_CLONES void gate_rows(const float* x, const float* g, float* y, int64_t C, bool relu,
                             int64_t begin, int64_t end) {
  const float floor = floor_of(relu);
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    for (int64_t c = 0; c < C; ++c) yr[c] = std::max(xr[c], floor) * g[c];
  }
}

// Planes [begin, end) of HW elements; plane p belongs to channel p % C.
MT_CPU_CLONES void gate_planes(const float* x, const float* g, float* y, int64_t C, int64_t HW,
                               bool relu, int64_t begin, int64_t end) {
  const float floor = floor_of(relu);
  for (int64_t p = begin; p < end; ++p) {
    const float s = g[p % C];
    const float* xp = x + p * HW;
    float* yp = y + p * HW;
    for (int64_t i = 0; i < HW; ++i) yp[i] = std::max(xp[i], floor) * s;
  }
}

// Rows [begin, end): dx = dy * g (0 where x <= 0 with relu) when dx is set; acc[c] += dy * x
// (relu(x)) when acc is set. Blocks of rows sum in float (vectorised) into `block` [C], then add
// into acc in double.
MT_CPU_CLONES void gate_bwd_rows(const float* x, const float* dy, const float* g, float* dx,
                                 double* acc, float* block, int64_t C, bool relu, int64_t begin,
                                 int64_t end) {
  constexpr int64_t kBlockRows = 16;
  const float floor = floor_of(relu);
  for (int64_t b = begin; b < end; b += kBlockRows) {
    const int64_t b_end = std::min(end, b + kBlockRows);
    if (acc) std::fill(block, block + C, 0.0f);
    for (int64_t r = b; r < b_end; ++r) {
      const float* xr = x + r * C;
      const float* gr = dy + r * C;
      if (dx)
        for (int64_t c = 0; c < C; ++c) dx[r * C + c] = relu && !(xr[c] > 0) ? 0.0f : gr[c] * g[c];
      if (acc)
        for (int64_t c = 0; c < C; ++c) block[c] += gr[c] * std::max(xr[c], floor);
    }
    if (acc)
      for (int64_t c = 0; c < C; ++c) acc[c] += block[c];
  }
}

// One plane of HW elements with gate s: writes dx when set, returns the sum of dy * x (float
// blocks added in double).
MT_CPU_CLONES double gate_bwd_plane(const float* x, const float* dy, float s, float* dx,
                                    int64_t HW, bool relu, bool want_sum) {
  if (dx)
    for (int64_t i = 0; i < HW; ++i) dx[i] = relu && !(x[i] > 0) ? 0.0f : dy[i] * s;
  double sum = 0;
  if (!want_sum) return sum;
  const float floor = floor_of(relu);
  for (int64_t b = 0; b < HW; b += 256) {
    const int64_t b_end = std::min(HW, b + 256);
    float block = 0;
#pragma omp simd reduction(+ : block)
    for (int64_t i = b; i < b_end; ++i) block += dy[i] * std::max(x[i], floor);
    sum += block;
  }
  return sum;
}

}  // namespace

void CpuBackend::gate_fwd(const GateDesc& d, const Tensor& x, const Tensor& logits, Tensor& y,
                          Tensor& workspace) {
  cpu::check_f32("gate_fwd", {&x, &logits, &y});
  check_gate_shapes("gate_fwd", x, logits.shape());
  cpu::check_shape("gate_fwd", x, y);
  MT_CHECK(d.temperature > 0, BackendError, "[gate_fwd] temperature ", d.temperature,
           " must be > 0");
  const int64_t C = x.dim(1);
  if (!workspace.defined() || workspace.shape() != Shape{2, C} || workspace.dtype() != DType::f32)
    workspace = Tensor::empty({2, C}, DType::f32);
  float* ws = workspace.data<float>();  // [2, C]: g, then dg/dlogit
  const float* pl = logits.data<float>();
  for (int64_t c = 0; c < C; ++c) {
    const GateValue v = gate_value(d, pl[c * logits.stride(0)], static_cast<uint64_t>(c));
    ws[c] = static_cast<float>(v.g);
    ws[C + c] = static_cast<float>(v.dg);
  }
  const Tensor src = cpu::in_order_of(x, y);
  const float* px = src.data<float>();
  float* py = y.data<float>();
  const int64_t HW = pixels(y);
  if (channels_last(y)) {
    cpu::parallel_ranges(y.dim(0) * HW,
                         [&](int64_t b, int64_t e) { gate_rows(px, ws, py, C, d.relu, b, e); }, C);
  } else {
    cpu::parallel_ranges(y.dim(0) * C,
                         [&](int64_t b, int64_t e) { gate_planes(px, ws, py, C, HW, d.relu, b, e); },
                         HW);
  }
}

void CpuBackend::gate_bwd(const GateDesc& d, const Tensor& x, const Tensor& dy,
                          const Tensor& workspace, Tensor& dx, Tensor& dlogits) {
  cpu::check_f32("gate_bwd", {&x, &dy, &workspace, &dx, &dlogits});
  cpu::check_shape("gate_bwd", x, dy);
  const int64_t N = x.dim(0), C = x.dim(1), HW = pixels(x);
  MT_CHECK(workspace.defined() && workspace.shape() == (Shape{2, C}), BackendError,
           "[gate_bwd] no gates for ", x.shape().str(), ": run gate_fwd first");
  if (dx.defined()) cpu::check_shape("gate_bwd", x, dx);
  if (dlogits.defined()) check_gate_shapes("gate_bwd", x, dlogits.shape());
  if (!dx.defined() && !dlogits.defined()) return;
  // Walk x's order; dx is written there and copied out if it lies otherwise.
  const Tensor g = cpu::in_order_of(dy, x);
  const Tensor out = dx.defined() ? cpu::output_in_layout(dx, x.layout()) : Tensor();
  const float* px = x.data<float>();
  const float* pg = g.data<float>();
  const float* ws = workspace.data<float>();
  float* pdx = out.defined() ? out.data<float>() : nullptr;
  // Per-sample sums (rows) or per-plane sums (planes), then summed over the batch.
  const Tensor partial = dlogits.defined() ? Tensor::empty({N, C}, DType::f64) : Tensor();  // [N, C]
  double* part = partial.defined() ? partial.data<double>() : nullptr;
  if (channels_last(x)) {
    const Tensor blocks = part ? Tensor::empty({N, C}, DType::f32) : Tensor();  // [N, C]
    cpu::parallel_for(
        N,
        [&](int64_t n) {
          double* acc = part ? part + n * C : nullptr;
          if (acc) std::fill(acc, acc + C, 0.0);
          float* block = acc ? blocks.data<float>() + n * C : nullptr;
          gate_bwd_rows(px, pg, ws, pdx, acc, block, C, d.relu, n * HW, (n + 1) * HW);
        },
        C * HW);
  } else {
    cpu::parallel_for(
        N * C,
        [&](int64_t p) {
          const double s = gate_bwd_plane(px + p * HW, pg + p * HW, ws[p % C],
                                          pdx ? pdx + p * HW : nullptr, HW, d.relu, part != nullptr);
          if (part) part[p] = s;
        },
        HW);
  }
  if (out.defined() && !out.shares_memory(dx)) cpu::copy_into(out, dx);
  if (!part) return;
  float* pdl = dlogits.data<float>();
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n) s += part[n * C + c];
    pdl[c * dlogits.stride(0)] = static_cast<float>(s * ws[C + c]);
  }
}

}  // namespace mt
