// Elementwise ops. sigmoid runs on oneDNN's jit eltwise (vectorised exp); relu, relu6,
// hardsigmoid, hardswish, add and the in-place helpers are OpenMP loops (mul is in mul.cpp).
// Every tensor is dense, so once the operands lie in the same order they are walked as flat
// arrays whatever their rank or layout.
#include <algorithm>

#include "core/hard_activations.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/onednn_context.h"

namespace mt {
namespace {

using dnnl::algorithm;
using dnnl::memory;
namespace dn = onednn;

memory::desc flat_md(int64_t n) { return dn::plain_md({n}); }

struct EltFwdEntry : dn::CacheEntry {
  dnnl::eltwise_forward prim;
  memory src, dst, scratch;
  explicit EltFwdEntry(const dnnl::eltwise_forward::primitive_desc& pd)
      : prim(pd),
        src(dn::unbound(pd.src_desc())),
        dst(dn::unbound(pd.dst_desc())),
        scratch(dn::unbound(pd.scratchpad_desc())) {}
};

struct EltBwdEntry : dn::CacheEntry {
  dnnl::eltwise_backward prim;
  memory dst, diff_dst, diff_src, scratch;
  explicit EltBwdEntry(const dnnl::eltwise_backward::primitive_desc& pd)
      : prim(pd),
        dst(dn::unbound(pd.dst_desc())),
        diff_dst(dn::unbound(pd.diff_dst_desc())),
        diff_src(dn::unbound(pd.diff_src_desc())),
        scratch(dn::unbound(pd.scratchpad_desc())) {}
};

dnnl::eltwise_forward::primitive_desc eltwise_fwd_pd(algorithm alg, int64_t n) {
  auto& ctx = dn::Context::get();
  dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_training, alg, flat_md(n));
  return {desc, ctx.attr(), ctx.engine()};
}

// y = f(x); algorithms with `_use_dst_for_bwd` so that the backward needs only y.
void eltwise_fwd(std::string_view op, algorithm alg, const Tensor& x, Tensor& y) {
  cpu::check_f32(op, x);
  cpu::check_f32(op, y);
  cpu::check_shape(op, x, y);
  if (x.numel() == 0) return;
  const Tensor src = cpu::in_order_of(x, y);
  auto& ctx = dn::Context::get();
  auto& e = ctx.lookup<EltFwdEntry>(dn::Key(op).add(x.numel()), [&] {
    auto pd = dn::checked(op, "eltwise", [&] { return eltwise_fwd_pd(alg, x.numel()); });
    return std::make_unique<EltFwdEntry>(pd);
  });
  dn::bind(e.src, src);
  dn::bind(e.dst, y);
  ctx.bind_scratchpad(e.scratch);
  ctx.execute(e.prim,
              {{DNNL_ARG_SRC, e.src}, {DNNL_ARG_DST, e.dst}, {DNNL_ARG_SCRATCHPAD, e.scratch}});
}

// dx = f'(from y) * dy.
void eltwise_bwd(std::string_view op, algorithm alg, const Tensor& y, const Tensor& dy,
                 Tensor& dx) {
  cpu::check_f32(op, y);
  cpu::check_f32(op, dy);
  cpu::check_f32(op, dx);
  cpu::check_shape(op, y, dy);
  cpu::check_shape(op, y, dx);
  if (y.numel() == 0) return;
  const Tensor yy = cpu::in_order_of(y, dx), g = cpu::in_order_of(dy, dx);
  auto& ctx = dn::Context::get();
  auto& e = ctx.lookup<EltBwdEntry>(dn::Key(op).add(y.numel()), [&] {
    auto pd = dn::checked(op, "eltwise backward", [&] {
      const int64_t n = y.numel();
      dnnl::eltwise_backward::desc desc(alg, flat_md(n), flat_md(n));
      return dnnl::eltwise_backward::primitive_desc(desc, ctx.attr(), ctx.engine(),
                                                    eltwise_fwd_pd(alg, n));
    });
    return std::make_unique<EltBwdEntry>(pd);
  });
  dn::bind(e.dst, yy);
  dn::bind(e.diff_dst, g);
  dn::bind(e.diff_src, dx);
  ctx.bind_scratchpad(e.scratch);
  ctx.execute(e.prim, {{DNNL_ARG_DST, e.dst},
                       {DNNL_ARG_DIFF_DST, e.diff_dst},
                       {DNNL_ARG_DIFF_SRC, e.diff_src},
                       {DNNL_ARG_SCRATCHPAD, e.scratch}});
}

MT_CPU_CLONES void relu_range(float* y, const float* x, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] = x[i] > 0 ? x[i] : 0.0f;
}

// From the output: y > 0 exactly where x > 0.
MT_CPU_CLONES void relu_bwd_range(float* dx, const float* y, const float* dy, int64_t begin,
                                  int64_t end) {
  for (int64_t i = begin; i < end; ++i) dx[i] = y[i] > 0 ? dy[i] : 0.0f;
}

// The residual add's two gradients through its ReLU are one masked dy: written in one pass.
MT_CPU_CLONES void add_relu_bwd_range(float* __restrict da, float* __restrict db, const float* y, const float* dy,
                                      int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float g = dy[i];
    da[i] = db[i] = y[i] > 0 ? g : 0.0f;
  }
}

// relu6, hardsigmoid, hardswish (core/hard_activations.h): compares, selects and a multiply per
// element, so the loops vectorise. Not oneDNN: 2.6 has eltwise_clip and eltwise_hardswish but no
// hardsigmoid, and its eltwise backward ran 3-7x slower than its forward for relu.
MT_CPU_CLONES void relu6_range(float* y, const float* x, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] = relu6_value(x[i]);
}

MT_CPU_CLONES void hardsigmoid_range(float* y, const float* x, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] = hardsigmoid_value(x[i]);
}

MT_CPU_CLONES void hardswish_range(float* y, const float* x, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] = hardswish_value(x[i]);
}

MT_CPU_CLONES void relu6_bwd_range(float* dx, const float* x, const float* dy, int64_t begin,
                                   int64_t end) {
  for (int64_t i = begin; i < end; ++i) dx[i] = relu6_grad(x[i], dy[i]);
}

MT_CPU_CLONES void hardsigmoid_bwd_range(float* dx, const float* x, const float* dy, int64_t begin,
                                         int64_t end) {
  for (int64_t i = begin; i < end; ++i) dx[i] = hardsigmoid_grad(x[i], dy[i]);
}

MT_CPU_CLONES void hardswish_bwd_range(float* dx, const float* x, const float* dy, int64_t begin,
                                       int64_t end) {
  for (int64_t i = begin; i < end; ++i) dx[i] = hardswish_grad(x[i], dy[i]);
}

using FwdRange = void (*)(float*, const float*, int64_t, int64_t);
using BwdRange = void (*)(float*, const float*, const float*, int64_t, int64_t);

// y = f(x) in y's memory order; y may be x itself.
void map_fwd(std::string_view op, FwdRange f, const Tensor& x, Tensor& y) {
  cpu::check_f32(op, {&x, &y});
  cpu::check_shape(op, x, y);
  const Tensor src = cpu::in_order_of(x, y);
  const float* px = src.data<float>();
  float* py = y.data<float>();
  cpu::parallel_ranges(y.numel(), [&](int64_t b, int64_t e) { f(py, px, b, e); });
}

// dx = f'(x) * dy in dx's memory order.
void map_bwd(std::string_view op, BwdRange f, const Tensor& x, const Tensor& dy, Tensor& dx) {
  cpu::check_f32(op, {&x, &dy, &dx});
  cpu::check_shape(op, x, dy);
  cpu::check_shape(op, x, dx);
  const Tensor xx = cpu::in_order_of(x, dx), g = cpu::in_order_of(dy, dx);
  const float* px = xx.data<float>();
  const float* pg = g.data<float>();
  float* pdx = dx.data<float>();
  cpu::parallel_ranges(dx.numel(), [&](int64_t b, int64_t e) { f(pdx, px, pg, b, e); });
}

MT_CPU_CLONES void add_range(float* y, const float* a, const float* b, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] = a[i] + b[i];
}

MT_CPU_CLONES void add_relu_range(float* y, const float* a, const float* b, int64_t begin,
                                  int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] = std::max(0.0f, a[i] + b[i]);
}

MT_CPU_CLONES void accumulate_range(float* y, const float* a, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] += a[i];
}

MT_CPU_CLONES void scale_range(float* y, float f, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] *= f;
}

MT_CPU_CLONES double squares_range(const float* p, int64_t begin, int64_t end) {
  // Blocks of float sums (vectorised) added in double: group-lasso norms sum many small squares.
  double total = 0;
  for (int64_t b = begin; b < end; b += 1024) {
    float block = 0;
#pragma omp simd reduction(+ : block)
    for (int64_t i = b; i < std::min(end, b + 1024); ++i) block += p[i] * p[i];
    total += block;
  }
  return total;
}

}  // namespace

// relu is a plain loop: oneDNN's eltwise backward ran 3-7x slower than its forward here.
void CpuBackend::relu_fwd(const Tensor& x, Tensor& y) {
  cpu::check_f32("relu_fwd", {&x, &y});
  cpu::check_shape("relu_fwd", x, y);
  const Tensor src = cpu::in_order_of(x, y);
  const float* px = src.data<float>();
  float* py = y.data<float>();
  cpu::parallel_ranges(y.numel(), [&](int64_t b, int64_t e) { relu_range(py, px, b, e); });
}

void CpuBackend::relu_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) {
  cpu::check_f32("relu_bwd", {&y, &dy, &dx});
  cpu::check_shape("relu_bwd", y, dy);
  cpu::check_shape("relu_bwd", y, dx);
  const Tensor yy = cpu::in_order_of(y, dx), g = cpu::in_order_of(dy, dx);
  const float* py = yy.data<float>();
  const float* pg = g.data<float>();
  float* px = dx.data<float>();
  cpu::parallel_ranges(dx.numel(), [&](int64_t b, int64_t e) { relu_bwd_range(px, py, pg, b, e); });
}

void CpuBackend::sigmoid_fwd(const Tensor& x, Tensor& y) {
  eltwise_fwd("sigmoid_fwd", algorithm::eltwise_logistic_use_dst_for_bwd, x, y);
}

void CpuBackend::sigmoid_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) {
  eltwise_bwd("sigmoid_bwd", algorithm::eltwise_logistic_use_dst_for_bwd, y, dy, dx);
}

void CpuBackend::relu6_fwd(const Tensor& x, Tensor& y) { map_fwd("relu6_fwd", relu6_range, x, y); }

void CpuBackend::relu6_bwd(const Tensor& x, const Tensor& dy, Tensor& dx) {
  map_bwd("relu6_bwd", relu6_bwd_range, x, dy, dx);
}

void CpuBackend::hardsigmoid_fwd(const Tensor& x, Tensor& y) {
  map_fwd("hardsigmoid_fwd", hardsigmoid_range, x, y);
}

void CpuBackend::hardsigmoid_bwd(const Tensor& x, const Tensor& dy, Tensor& dx) {
  map_bwd("hardsigmoid_bwd", hardsigmoid_bwd_range, x, dy, dx);
}

void CpuBackend::hardswish_fwd(const Tensor& x, Tensor& y) {
  map_fwd("hardswish_fwd", hardswish_range, x, y);
}

void CpuBackend::hardswish_bwd(const Tensor& x, const Tensor& dy, Tensor& dx) {
  map_bwd("hardswish_bwd", hardswish_bwd_range, x, dy, dx);
}

void CpuBackend::add_fwd(const Tensor& a, const Tensor& b, Tensor& y) {
  cpu::check_f32("add_fwd", {&a, &b, &y});
  cpu::check_shape("add_fwd", a, y);
  cpu::check_shape("add_fwd", b, y);
  const Tensor aa = cpu::in_order_of(a, y), bb = cpu::in_order_of(b, y);
  const float* pa = aa.data<float>();
  const float* pb = bb.data<float>();
  float* py = y.data<float>();
  cpu::parallel_ranges(y.numel(), [&](int64_t b, int64_t e) { add_range(py, pa, pb, b, e); });
}

void CpuBackend::add_relu_fwd(const Tensor& a, const Tensor& b, Tensor& y) {
  cpu::check_f32("add_relu_fwd", {&a, &b, &y});
  cpu::check_shape("add_relu_fwd", a, y);
  cpu::check_shape("add_relu_fwd", b, y);
  const Tensor aa = cpu::in_order_of(a, y), bb = cpu::in_order_of(b, y);
  const float* pa = aa.data<float>();
  const float* pb = bb.data<float>();
  float* py = y.data<float>();
  cpu::parallel_ranges(y.numel(), [&](int64_t b, int64_t e) { add_relu_range(py, pa, pb, b, e); });
}

void CpuBackend::add_relu_bwd(const Tensor& y, const Tensor& dy, Tensor& da, Tensor& db) {
  if (!da.defined() || !db.defined() || da.strides() != db.strides() || da.shares_memory(db)) {
    KernelBackend::add_relu_bwd(y, dy, da, db);  // one gradient, or two that lie differently
    return;
  }
  cpu::check_f32("add_relu_bwd", {&y, &dy, &da, &db});
  cpu::check_shape("add_relu_bwd", y, dy);
  cpu::check_shape("add_relu_bwd", y, da);
  cpu::check_shape("add_relu_bwd", y, db);
  const Tensor yy = cpu::in_order_of(y, da), g = cpu::in_order_of(dy, da);
  const float* py = yy.data<float>();
  const float* pg = g.data<float>();
  float* pa = da.data<float>();
  float* pb = db.data<float>();
  cpu::parallel_ranges(da.numel(), [&](int64_t b, int64_t e) { add_relu_bwd_range(pa, pb, py, pg, b, e); });
}

void CpuBackend::add_inplace(Tensor& dst, const Tensor& src) {
  cpu::check_f32("add_inplace", dst);
  cpu::check_f32("add_inplace", src);
  cpu::check_shape("add_inplace", src, dst);
  const Tensor s = cpu::in_order_of(src, dst);
  const float* ps = s.data<float>();
  float* pd = dst.data<float>();
  cpu::parallel_ranges(dst.numel(), [&](int64_t b, int64_t e) { accumulate_range(pd, ps, b, e); });
}

void CpuBackend::fill(Tensor& t, double value) {
  cpu::check_f32("fill", t);
  float* p = t.data<float>();
  const float v = static_cast<float>(value);
  cpu::parallel_ranges(t.numel(),
                       [&](int64_t begin, int64_t end) { std::fill(p + begin, p + end, v); });
}

void CpuBackend::scale_inplace(Tensor& t, double factor) {
  cpu::check_f32("scale_inplace", t);
  float* p = t.data<float>();
  const float f = static_cast<float>(factor);
  cpu::parallel_ranges(t.numel(), [&](int64_t b, int64_t e) { scale_range(p, f, b, e); });
}

double CpuBackend::sum_squares(const Tensor& t) {
  cpu::check_f32("sum_squares", t);
  const float* p = t.data<float>();
  const int64_t n = t.numel();
  const int nt = n >= cpu::kSerialBelow ? omp_get_max_threads() : 1;
  double total = 0;
#pragma omp parallel for reduction(+ : total) num_threads(nt)
  for (int i = 0; i < nt; ++i) {
    const int64_t chunk = (n + nt - 1) / nt;
    total += squares_range(p, std::min(n, i * chunk), std::min(n, (i + 1) * chunk));
  }
  return total;
}

}  // namespace mt
