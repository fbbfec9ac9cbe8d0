// Convolution on oneDNN: activations keep the caller's strides (nhwc is the fast path; plain nchw
// falls back to oneDNN's gemm kernels), weights go through a cached reorder from OIHW into the
// layout the primitive chose (format_tag::any).
#include "kernels/cpu/conv_thin.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/onednn_weights.h"

namespace mt {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;
namespace dn = onednn;

struct Geometry {
  memory::dims strides, dilates, pad_l, pad_r;
};

// NB: oneDNN counts dilation from 0 (1 = one gap), PyTorch from 1. Padding is symmetric as in
// PyTorch; oneDNN accepts a right pad that the last window does not fully use.
Geometry geometry(const Conv2dDesc& d) {
  return {{d.stride_h, d.stride_w},
          {d.dilation_h - 1, d.dilation_w - 1},
          {d.pad_h, d.pad_w},
          {d.pad_h, d.pad_w}};
}

// PyTorch's [O, I/g, kH, kW] is oneDNN's goihw [g, O/g, I/g, kH, kW] in the same memory.
memory::dims weight_dims(const Conv2dDesc& d, const Tensor& w) {
  if (d.groups == 1) return w.shape().dims();
  return {d.groups, w.dim(0) / d.groups, w.dim(1), w.dim(2), w.dim(3)};
}

memory::desc any_md(const memory::dims& dims) {
  return memory::desc(dims, memory::data_type::f32, memory::format_tag::any);
}

// Activations of one call share a layout, nhwc when any of them is (else oneDNN falls back to
// its reference kernel for mixed layouts); the others are converted.
Layout work_layout(const Tensor& a, const Tensor& b) {
  return a.layout() == Layout::nhwc || b.layout() == Layout::nhwc ? Layout::nhwc : Layout::nchw;
}

dn::Key conv_key(std::string_view op, const Conv2dDesc& d, Layout layout) {
  dn::Key k(op);
  k.add(static_cast<int64_t>(layout));
  k.add(d.stride_h).add(d.stride_w).add(d.pad_h).add(d.pad_w);
  k.add(d.dilation_h).add(d.dilation_w).add(d.groups);
  return k;
}

// The forward descriptor; bwd primitives need it as a hint, built on the same shapes.
// relu: a ReLU post-op on the output (the folded conv + batch norm + ReLU of inference);
// accumulate: a sum post-op before it, adding what y holds (the residual of a block).
dnnl::convolution_forward::primitive_desc forward_pd(const Conv2dDesc& d, const memory::desc& x,
                                                     const memory::dims& w_dims, bool bias,
                                                     const memory::desc& y, bool with_attr,
                                                     bool relu = false, bool accumulate = false) {
  const Geometry g = geometry(d);
  const memory::desc w = any_md(w_dims);
  const int64_t out_channels = y.dims()[1];
  auto desc = bias ? dnnl::convolution_forward::desc(
                         prop_kind::forward_training, algorithm::convolution_direct, x, w,
                         dn::plain_md({out_channels}), y, g.strides, g.dilates, g.pad_l, g.pad_r)
                   : dnnl::convolution_forward::desc(prop_kind::forward_training,
                                                     algorithm::convolution_direct, x, w, y,
                                                     g.strides, g.dilates, g.pad_l, g.pad_r);
  const auto& eng = dn::Context::get().engine();
  if (relu || accumulate) {
    // NB: oneDNN's C++ objects are handles; copying Context::attr() would share (and so change)
    // the attribute every primitive is built with. Build a fresh one.
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::post_ops ops;
    if (accumulate) ops.append_sum(1.0f);
    if (relu) ops.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
    return dnnl::convolution_forward::primitive_desc(desc, attr, eng);
  }
  return with_attr ? dnnl::convolution_forward::primitive_desc(desc, dn::Context::get().attr(), eng)
                   : dnnl::convolution_forward::primitive_desc(desc, eng);
}

std::string shapes(const Tensor& a, const Tensor& b, const Tensor& c) {
  return "convolution for " + a.shape().str() + ", " + b.shape().str() + " -> " + c.shape().str();
}

struct FwdEntry : dn::CacheEntry {
  dnnl::convolution_forward prim;
  memory src, dst, bias, scratch;
  dn::WeightsIn weights;
  explicit FwdEntry(const dnnl::convolution_forward::primitive_desc& pd, const memory::desc& w_user)
      : prim(pd),
        src(dn::unbound(pd.src_desc())),
        dst(dn::unbound(pd.dst_desc())),
        bias(dn::unbound(pd.bias_desc())),
        scratch(dn::unbound(pd.scratchpad_desc())),
        weights(w_user, pd.weights_desc()) {}
};

struct BwdDataEntry : dn::CacheEntry {
  dnnl::convolution_backward_data prim;
  memory diff_dst, diff_src, scratch;
  dn::WeightsIn weights;
  BwdDataEntry(const dnnl::convolution_backward_data::primitive_desc& pd,
               const memory::desc& w_user)
      : prim(pd),
        diff_dst(dn::unbound(pd.diff_dst_desc())),
        diff_src(dn::unbound(pd.diff_src_desc())),
        scratch(dn::unbound(pd.scratchpad_desc())),
        weights(w_user, pd.weights_desc()) {}
};

struct BwdWeightsEntry : dn::CacheEntry {
  dnnl::convolution_backward_weights prim;
  memory src, diff_dst, diff_bias, scratch;
  dn::WeightsOut diff_weights;
  BwdWeightsEntry(const dnnl::convolution_backward_weights::primitive_desc& pd,
                  const memory::desc& w_user)
      : prim(pd),
        src(dn::unbound(pd.src_desc())),
        diff_dst(dn::unbound(pd.diff_dst_desc())),
        diff_bias(dn::unbound(pd.diff_bias_desc())),
        scratch(dn::unbound(pd.scratchpad_desc())),
        diff_weights(w_user, pd.diff_weights_desc()) {}
};

}  // namespace

void CpuBackend::conv2d_fwd(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& b,
                            Tensor& y) {
  conv_forward(d, x, w, b, y, false);
}

void CpuBackend::conv_forward(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& b,
                              Tensor& y, bool relu, bool accumulate) {
  constexpr std::string_view op = "conv2d_fwd";
  cpu::check_f32(op, {&x, &w, &b, &y});
  if (!accumulate && cpu::thin_conv_applies(d, x, w, y)) {
    cpu::thin_conv_forward(d, x, w, b, y, relu);
    return;
  }
  const Layout L = work_layout(x, y);
  const Tensor src = cpu::in_layout(x, L);
  Tensor dst = accumulate ? cpu::in_layout(y, L) : cpu::output_in_layout(y, L);
  auto& ctx = dn::Context::get();
  const int64_t post_ops = int64_t{relu} + 2 * int64_t{accumulate};
  auto& e = ctx.lookup<FwdEntry>(conv_key(op, d, L).add(post_ops).add(x).add(w).add(b).add(y), [&] {
    const memory::dims wd = weight_dims(d, w);
    auto pd = dn::checked(op, shapes(x, w, y), [&] {
      return forward_pd(d, dn::md_as(src, L), wd, b.defined(), dn::md_as(dst, L), true, relu, accumulate);
    });
    return std::make_unique<FwdEntry>(pd, dn::plain_md(wd));
  });
  dn::bind(e.src, src);
  dn::bind(e.dst, dst);
  ctx.bind_scratchpad(e.scratch);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.src},
                                       {DNNL_ARG_WEIGHTS, e.weights.prepare(w)},
                                       {DNNL_ARG_DST, e.dst},
                                       {DNNL_ARG_SCRATCHPAD, e.scratch}};
  if (b.defined()) {
    dn::bind(e.bias, b);
    args.emplace(DNNL_ARG_BIAS, e.bias);
  }
  ctx.execute(e.prim, args);
  if (!dst.shares_memory(y)) cpu::copy_into(dst, y);
}

void CpuBackend::conv2d_bwd_data(const Conv2dDesc& d, const Tensor& dy, const Tensor& w,
                                 Tensor& dx) {
  constexpr std::string_view op = "conv2d_bwd_data";
  cpu::check_f32(op, {&dy, &w, &dx});
  const Layout L = work_layout(dy, dx);
  const Tensor g = cpu::in_layout(dy, L);
  Tensor gx = cpu::output_in_layout(dx, L);
  auto& ctx = dn::Context::get();
  auto& e = ctx.lookup<BwdDataEntry>(conv_key(op, d, L).add(dy).add(w).add(dx), [&] {
    const memory::dims wd = weight_dims(d, w);
    auto pd = dn::checked(op, shapes(dx, w, dy), [&] {
      const Geometry geo = geometry(d);
      const memory::desc src = dn::md_as(gx, L), dst = dn::md_as(g, L);
      auto hint = forward_pd(d, src, wd, false, dst, false);
      dnnl::convolution_backward_data::desc desc(algorithm::convolution_direct, src, any_md(wd),
                                                 dst, geo.strides, geo.dilates, geo.pad_l,
                                                 geo.pad_r);
      return dnnl::convolution_backward_data::primitive_desc(desc, ctx.attr(), ctx.engine(), hint);
    });
    return std::make_unique<BwdDataEntry>(pd, dn::plain_md(wd));
  });
  dn::bind(e.diff_dst, g);
  dn::bind(e.diff_src, gx);
  ctx.bind_scratchpad(e.scratch);
  ctx.execute(e.prim, {{DNNL_ARG_DIFF_DST, e.diff_dst},
                       {DNNL_ARG_WEIGHTS, e.weights.prepare(w)},
                       {DNNL_ARG_DIFF_SRC, e.diff_src},
                       {DNNL_ARG_SCRATCHPAD, e.scratch}});
  if (!gx.shares_memory(dx)) cpu::copy_into(gx, dx);
}

void CpuBackend::conv2d_bwd_weights(const Conv2dDesc& d, const Tensor& x, const Tensor& dy,
                                    Tensor& dw, Tensor& db) {
  constexpr std::string_view op = "conv2d_bwd_weights";
  cpu::check_f32(op, {&x, &dy, &dw, &db});
  const Layout L = work_layout(x, dy);
  const Tensor src = cpu::in_layout(x, L), g = cpu::in_layout(dy, L);
  auto& ctx = dn::Context::get();
  auto& e = ctx.lookup<BwdWeightsEntry>(conv_key(op, d, L).add(x).add(dy).add(dw).add(db), [&] {
    const memory::dims wd = weight_dims(d, dw);
    auto pd = dn::checked(op, shapes(x, dw, dy), [&] {
      const Geometry geo = geometry(d);
      const bool bias = db.defined();
      const memory::desc smd = dn::md_as(src, L), dmd = dn::md_as(g, L), wmd = any_md(wd);
      auto hint = forward_pd(d, smd, wd, bias, dmd, false);
      auto desc = bias ? dnnl::convolution_backward_weights::desc(
                             algorithm::convolution_direct, smd, wmd, dn::md_of(db), dmd,
                             geo.strides, geo.dilates, geo.pad_l, geo.pad_r)
                       : dnnl::convolution_backward_weights::desc(
                             algorithm::convolution_direct, smd, wmd, dmd, geo.strides, geo.dilates,
                             geo.pad_l, geo.pad_r);
      return dnnl::convolution_backward_weights::primitive_desc(desc, ctx.attr(), ctx.engine(),
                                                                hint);
    });
    return std::make_unique<BwdWeightsEntry>(pd, dn::plain_md(wd));
  });
  dn::bind(e.src, src);
  dn::bind(e.diff_dst, g);
  ctx.bind_scratchpad(e.scratch);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.src},
                                       {DNNL_ARG_DIFF_DST, e.diff_dst},
                                       {DNNL_ARG_DIFF_WEIGHTS, e.diff_weights.target(dw)},
                                       {DNNL_ARG_SCRATCHPAD, e.scratch}};
  if (db.defined()) {
    dn::bind(e.diff_bias, db);
    args.emplace(DNNL_ARG_DIFF_BIAS, e.diff_bias);
  }
  ctx.execute(e.prim, args);
  e.diff_weights.finish();
}

}  // namespace mt
