// Convolution on oneDNN: activations keep the caller's strides (nhwc is the fast path; plain nchw
// falls back to oneDNN's gemm kernels), weights go through a reorder from OIHW into the layout the
// primitive chose (format_tag::any). Convolutions that Winograd serves (kernels/cpu/conv_winograd.h)
// take their activations in the primitive's blocked layout instead, staged in and out likewise.
#include "kernels/cpu/conv_thin.h"
#include "kernels/cpu/conv_winograd.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/onednn_staging.h"

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

// The activation descriptor to ask a primitive for: the caller's own, or any layout the
// primitive likes (Winograd's blocks), to be staged.
memory::desc activation_md(const memory::desc& user, bool staged) {
  return staged ? any_md(user.dims()) : user;
}

// Winograd's scratchpad holds the transformed tiles and weights: about 7 MB at the least, and in
// deep layers at small spatial sizes the weights' part outgrows the activations many times (140 MB
// for ResNet-50's 512-channel 7x7 weight gradient, against 3 MB of input): more memory than the
// time saved is worth. A primitive takes Winograd only while its scratchpad stays within twice its
// input and output together plus a fixed allowance. ResNet-50's 256-channel 14x14 layers at batch
// 32: the weight gradient (35 MB) takes it, forward and data gradient (54 MB) run direct.
constexpr size_t kWinogradScratchPerByte = 2;
constexpr size_t kWinogradScratchAllowance = size_t{16} << 20;

// make(algorithm, staged) builds a primitive descriptor: Winograd where it was chosen, unless
// oneDNN has no such kernel here (no AVX-512: it refuses the descriptor) or its scratchpad is too
// large; otherwise the direct algorithm. Both depend on the shape and the machine only.
template <typename Make>
auto with_algorithm(bool winograd, size_t io_bytes, Make&& make)
    -> decltype(make(algorithm::convolution_direct, false)) {
  if (winograd) {
    try {
      auto pd = make(algorithm::convolution_winograd, true);
      const size_t allowed = kWinogradScratchPerByte * io_bytes + kWinogradScratchAllowance;
      if (pd.scratchpad_desc().get_size() <= allowed) return pd;
    } catch (const dnnl::error&) {
    }
  }
  return make(algorithm::convolution_direct, false);
}

size_t io_bytes_of(const Tensor& in, const Tensor& out) {
  return static_cast<size_t>(in.nbytes() + out.nbytes());
}

bool winograd_for(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& y) {
  return cpu::winograd_applies(d, x.dim(1), y.dim(1), w.dim(2), w.dim(3));
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
dnnl::convolution_forward::primitive_desc forward_pd(const Conv2dDesc& d, algorithm alg,
                                                     const memory::desc& x,
                                                     const memory::dims& w_dims, bool bias,
                                                     const memory::desc& y, bool with_attr,
                                                     bool relu = false, bool accumulate = false) {
  const Geometry g = geometry(d);
  const memory::desc w = any_md(w_dims);
  const int64_t out_channels = y.dims()[1];
  auto desc = bias ? dnnl::convolution_forward::desc(
                         prop_kind::forward_training, alg, x, w, dn::plain_md({out_channels}), y,
                         g.strides, g.dilates, g.pad_l, g.pad_r)
                   : dnnl::convolution_forward::desc(prop_kind::forward_training, alg, x, w, y,
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

using Shared = dn::Context::Shared;

struct FwdEntry : dn::CacheEntry {
  dnnl::convolution_forward prim;
  memory bias, scratch;
  dn::StagedIn src, weights;
  dn::StagedOut dst;
  FwdEntry(const dnnl::convolution_forward::primitive_desc& pd, const memory::desc& x_user,
           const memory::desc& w_user, const memory::desc& y_user)
      : prim(pd),
        bias(dn::unbound(pd.bias_desc())),
        scratch(dn::unbound(pd.scratchpad_desc())),
        src(x_user, pd.src_desc(), Shared::first_activation),
        weights(w_user, pd.weights_desc()),
        dst(y_user, pd.dst_desc(), Shared::second_activation) {}
};

struct BwdDataEntry : dn::CacheEntry {
  dnnl::convolution_backward_data prim;
  memory scratch;
  dn::StagedIn diff_dst, weights;
  dn::StagedOut diff_src;
  BwdDataEntry(const dnnl::convolution_backward_data::primitive_desc& pd,
               const memory::desc& dy_user, const memory::desc& w_user,
               const memory::desc& dx_user)
      : prim(pd),
        scratch(dn::unbound(pd.scratchpad_desc())),
        diff_dst(dy_user, pd.diff_dst_desc(), Shared::first_activation),
        weights(w_user, pd.weights_desc()),
        diff_src(dx_user, pd.diff_src_desc(), Shared::second_activation) {}
};

struct BwdWeightsEntry : dn::CacheEntry {
  dnnl::convolution_backward_weights prim;
  memory diff_bias, scratch;
  dn::StagedIn src, diff_dst;
  dn::StagedOut diff_weights;
  BwdWeightsEntry(const dnnl::convolution_backward_weights::primitive_desc& pd,
                  const memory::desc& x_user, const memory::desc& dy_user,
                  const memory::desc& w_user)
      : prim(pd),
        diff_bias(dn::unbound(pd.diff_bias_desc())),
        scratch(dn::unbound(pd.scratchpad_desc())),
        src(x_user, pd.src_desc(), Shared::first_activation),
        diff_dst(dy_user, pd.diff_dst_desc(), Shared::second_activation),
        diff_weights(w_user, pd.diff_weights_desc()) {}
};

}  // namespace

void CpuBackend::conv2d_fwd(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& b,
                            Tensor& y) {
  conv_forward(d, x, w, b, y, false);
}

void CpuBackend::conv_forward(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& b,
                              Tensor& y, bool relu, bool accumulate, bool evaluation) {
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
  // Evaluation's convolutions (the batch norm folded in, the residual perhaps summed in) take
  // Winograd from 64 channels only: at 32 (16x16, batch 128) it was no faster with the ReLU alone
  // (1.83 against 1.92 ms) and slower with the residual staged in as well as out (2.45 against
  // 1.88); at 64 (8x8) it won, 1.50 against 1.76 with the sum (MORPHTRAIN_PROFILE=1 bench_step
  // --mode infer). One rule for both forms, so that a folded residual gives the unfolded bits.
  constexpr int64_t kMinEvaluationChannels = 64;
  const bool wino = winograd_for(d, x, w, y) && (!evaluation || y.dim(1) >= kMinEvaluationChannels);
  const int64_t post_ops = int64_t{relu} + 2 * int64_t{accumulate};
  const dn::Key key = conv_key(op, d, L).add(int64_t{wino}).add(post_ops).add(x).add(w).add(b).add(y);
  auto& e = ctx.lookup<FwdEntry>(key, [&] {
    const memory::dims wd = weight_dims(d, w);
    const memory::desc smd = dn::md_as(src, L), dmd = dn::md_as(dst, L);
    auto pd = dn::checked(op, shapes(x, w, y), [&] {
      return with_algorithm(wino, io_bytes_of(x, y), [&](algorithm alg, bool staged) {
        return forward_pd(d, alg, activation_md(smd, staged), wd, b.defined(),
                          activation_md(dmd, staged), true, relu, accumulate);
      });
    });
    return std::make_unique<FwdEntry>(pd, smd, dn::plain_md(wd), dmd);
  });
  ctx.bind_scratchpad(e.scratch);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.src.prepare(src)},
                                       {DNNL_ARG_WEIGHTS, e.weights.prepare(w)},
                                       {DNNL_ARG_DST, e.dst.target(dst, accumulate)},
                                       {DNNL_ARG_SCRATCHPAD, e.scratch}};
  if (b.defined()) {
    dn::bind(e.bias, b);
    args.emplace(DNNL_ARG_BIAS, e.bias);
  }
  ctx.execute(e.prim, args);
  e.dst.finish();
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
  const bool wino = winograd_for(d, dx, w, dy);
  auto& e = ctx.lookup<BwdDataEntry>(conv_key(op, d, L).add(int64_t{wino}).add(dy).add(w).add(dx), [&] {
    const memory::dims wd = weight_dims(d, w);
    const memory::desc src = dn::md_as(gx, L), dst = dn::md_as(g, L);
    auto pd = dn::checked(op, shapes(dx, w, dy), [&] {
      return with_algorithm(wino, io_bytes_of(dx, dy), [&](algorithm alg, bool staged) {
        const Geometry geo = geometry(d);
        const memory::desc s = activation_md(src, staged), t = activation_md(dst, staged);
        auto hint = forward_pd(d, alg, s, wd, false, t, false);
        dnnl::convolution_backward_data::desc desc(alg, s, any_md(wd), t, geo.strides,
                                                   geo.dilates, geo.pad_l, geo.pad_r);
        return dnnl::convolution_backward_data::primitive_desc(desc, ctx.attr(), ctx.engine(),
                                                               hint);
      });
    });
    return std::make_unique<BwdDataEntry>(pd, dst, dn::plain_md(wd), src);
  });
  ctx.bind_scratchpad(e.scratch);
  ctx.execute(e.prim, {{DNNL_ARG_DIFF_DST, e.diff_dst.prepare(g)},
                       {DNNL_ARG_WEIGHTS, e.weights.prepare(w)},
                       {DNNL_ARG_DIFF_SRC, e.diff_src.target(gx)},
                       {DNNL_ARG_SCRATCHPAD, e.scratch}});
  e.diff_src.finish();
  if (!gx.shares_memory(dx)) cpu::copy_into(gx, dx);
}

void CpuBackend::conv2d_bwd_weights(const Conv2dDesc& d, const Tensor& x, const Tensor& dy,
                                    Tensor& dw, Tensor& db) {
  constexpr std::string_view op = "conv2d_bwd_weights";
  cpu::check_f32(op, {&x, &dy, &dw, &db});
  const Layout L = work_layout(x, dy);
  const Tensor src = cpu::in_layout(x, L), g = cpu::in_layout(dy, L);
  auto& ctx = dn::Context::get();
  const bool wino = winograd_for(d, x, dw, dy);
  const dn::Key key = conv_key(op, d, L).add(int64_t{wino}).add(x).add(dy).add(dw).add(db);
  auto& e = ctx.lookup<BwdWeightsEntry>(key, [&] {
    const memory::dims wd = weight_dims(d, dw);
    const memory::desc smd = dn::md_as(src, L), dmd = dn::md_as(g, L);
    auto pd = dn::checked(op, shapes(x, dw, dy), [&] {
      return with_algorithm(wino, io_bytes_of(x, dy), [&](algorithm alg, bool staged) {
        const Geometry geo = geometry(d);
        const bool bias = db.defined();
        const memory::desc s = activation_md(smd, staged), t = activation_md(dmd, staged);
        const memory::desc wmd = any_md(wd);
        auto hint = forward_pd(d, alg, s, wd, bias, t, false);
        auto desc = bias ? dnnl::convolution_backward_weights::desc(alg, s, wmd, dn::md_of(db), t,
                                                                    geo.strides, geo.dilates,
                                                                    geo.pad_l, geo.pad_r)
                         : dnnl::convolution_backward_weights::desc(
                               alg, s, wmd, t, geo.strides, geo.dilates, geo.pad_l, geo.pad_r);
        return dnnl::convolution_backward_weights::primitive_desc(desc, ctx.attr(), ctx.engine(),
                                                                  hint);
      });
    });
    return std::make_unique<BwdWeightsEntry>(pd, smd, dmd, dn::plain_md(wd));
  });
  ctx.bind_scratchpad(e.scratch);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.src.prepare(src)},
                                       {DNNL_ARG_DIFF_DST, e.diff_dst.prepare(g)},
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
