// Convolutions on cuDNN's legacy convolution API. Each call runs in one activation layout: nhwc
// when any activation of the call is nhwc (cuDNN's tensor-core kernels run on channels-last),
// else nchw. The filter follows that layout too (OHWI, cuDNN's KRSC, for nhwc), as PyTorch
// gives cuDNN a channels-last filter with channels-last activations: cuDNN's documentation says
// it may pad, fold or transform NCHW data to NHWC to reach its tensor-core kernels, so handing
// it matching formats leaves it nothing to convert. A tensor in another layout than the call's
// goes through a scratch copy (weights are small; mixed-layout activations are rare). If cuDNN
// has no algorithm in nhwc, the call falls back to nchw.
#include <algorithm>
#include <climits>
#include <string>

#include "core/allocator.h"
#include "kernels/cuda/conv_cache.h"
#include "kernels/cuda/conv_kernels.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/cuda_util.h"
#include "kernels/reference/conv2d.h"  // conv_geometry: the shape rules every backend shares

namespace mt {
namespace {

using cuda::ConvPass;

// Workspace the first call of a shape may give cuDNN's benchmark: enough for the fast
// algorithms of ResNet-sized layers, at most half of the free device memory.
constexpr size_t kSearchBudget = size_t{256} << 20;

const char* layout_name(Layout l) { return l == Layout::nhwc ? "nhwc" : "nchw"; }

struct Named {
  const Tensor& t;
  const char* name;
};

// A dense tensor whose sizes and strides fit cuDNN's int descriptors.
void check_dense(const char* op, const Named& a) {
  const Tensor& t = a.t;
  MT_CHECK(t.rank() == 4 && t.strides() == strides_for(t.shape(), t.layout()), BackendError,
           "[cuda ", op, "] ", a.name, " ", t.shape().str(), " is not a dense rank-4 ",
           layout_name(t.layout()), " tensor");
  MT_CHECK(t.numel() <= INT_MAX, BackendError, "[cuda ", op, "] ", a.name, " ", t.shape().str(),
           " has more than 2^31 - 1 elements, beyond cuDNN's int descriptors");
}

// Device, dtype, descriptor and shape checks shared by every pass; x, w, y in the forward's roles.
reference::ConvGeometry check_conv(const char* op, const Conv2dDesc& d, const Named& x,
                                   const Named& w, const Named& y) {
  for (const Named* a : {&x, &w, &y}) cuda::check_device_tensor(a->t, op, a->name);
  MT_CHECK(d.stride_h >= 1 && d.stride_w >= 1 && d.dilation_h >= 1 && d.dilation_w >= 1 &&
               d.pad_h >= 0 && d.pad_w >= 0,
           ConfigError, "[cuda ", op, "] stride ", d.stride_h, "x", d.stride_w, ", dilation ",
           d.dilation_h, "x", d.dilation_w, ", pad ", d.pad_h, "x", d.pad_w,
           ": strides and dilations must be at least 1, pads at least 0");
  const reference::ConvGeometry g =
      reference::conv_geometry(std::string("cuda ") + op, d, x.t.shape(), w.t.shape(), y.t.shape());
  for (const Named* a : {&x, &w, &y}) check_dense(op, *a);
  return g;
}

// An optional (or required) per-output-channel vector [O].
void check_channels(const char* op, const Named& a, int64_t channels) {
  cuda::check_device_tensor(a.t, op, a.name);
  MT_CHECK(a.t.shape() == Shape{channels}, ShapeError, "[cuda ", op, "] ", a.name, " ",
           a.t.shape().str(), " must be [", channels, "], one value per output channel");
}

// t as the cuDNN call sees it: t itself when already in `layout`, else scratch in `layout`,
// filled from t when the call reads it.
Tensor staged(CudaBackend& be, const Tensor& t, Layout layout, bool read) {
  if (t.layout() == layout) return t;
  Tensor s = Tensor::empty(t.shape(), DType::f32, layout, t.device());
  if (read) be.copy(t, s);
  return s;
}

// The call's x, w, y (forward roles) in the layouts of a plan.
struct Staged {
  Tensor x, w, y;
};

Staged stage(CudaBackend& be, ConvPass pass, const Tensor& x, const Tensor& w, const Tensor& y,
             Layout act, Layout filter) {
  return {staged(be, x, act, pass != ConvPass::bwd_data),
          staged(be, w, filter, pass != ConvPass::bwd_filter),
          staged(be, y, act, pass != ConvPass::fwd)};
}

// Half of what the device could give: its free memory plus what the caching allocator holds
// unused (cudaMemGetInfo counts that as taken, and the allocator releases it when short), so a
// warm cache does not starve the search into a slow algorithm kept for the run.
size_t search_budget(Device device) {
  size_t free = 0, total = 0;
  MT_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  const int64_t cached = allocator_for(device).stats().bytes_cached;
  return std::min(kSearchBudget, (free + static_cast<size_t>(std::max<int64_t>(cached, 0))) / 2);
}

// First call of a shape: stage the tensors in the preferred layouts and benchmark; nchw if
// nothing runs there. `s` receives the staged tensors of the layouts chosen.
cuda::ConvPlan& choose_plan(CudaBackend& be, cuda::ConvCache& cache, const cuda::ConvKey& key,
                            const Tensor& x, const Tensor& w, const Tensor& y, Staged& s) {
  cuda::Context& ctx = be.context();
  const Layout preferred =
      x.layout() == Layout::nhwc || y.layout() == Layout::nhwc ? Layout::nhwc : Layout::nchw;
  const size_t budget = search_budget(be.device());
  void* workspace = ctx.workspace(budget);
  auto plan = std::make_unique<cuda::ConvPlan>();
  std::string reasons;
  for (Layout layout : {preferred, Layout::nchw}) {
    s = stage(be, key.pass, x, w, y, layout, layout);
    std::string why;
    if (plan->choose(ctx.cudnn(), key.pass, key.desc, s.x, s.w, s.y, key.tf32, workspace, budget,
                     why))
      return cache.insert(key, std::move(plan));
    reasons += std::string(" in ") + layout_name(layout) + ": " + why + ";";
    if (layout == Layout::nchw) break;
  }
  MT_FAIL(BackendError, "[cuda ", cuda::pass_name(key.pass), "] cuDNN has no algorithm for x ",
          x.shape().str(), ", w ", w.shape().str(), ", y ", y.shape().str(), ", groups ",
          key.desc.groups, ":", reasons);
}

// One cuDNN pass over non-empty x, w, y (forward roles); the pass's output among them is written
// whole, whatever its layout.
void run_conv(CudaBackend& be, cuda::ConvCache& cache, ConvPass pass, const Conv2dDesc& d,
              const Tensor& x, const Tensor& w, const Tensor& y) {
  cuda::Context& ctx = be.context();
  const cuda::ConvKey key = cuda::conv_key(pass, d, x, w, y, be.options().allow_tf32);
  cuda::ConvPlan* plan = cache.find(key);
  Staged s;
  if (plan)
    s = stage(be, pass, x, w, y, plan->layout(), plan->filter_layout());
  else
    plan = &choose_plan(be, cache, key, x, w, y, s);
  plan->run(ctx.cudnn(), {s.x.raw(), s.w.raw(), s.y.raw()}, ctx.workspace(plan->workspace_bytes()));
  const Tensor& out = pass == ConvPass::fwd ? y : pass == ConvPass::bwd_data ? x : w;
  const Tensor& result = pass == ConvPass::fwd ? s.y : pass == ConvPass::bwd_data ? s.x : s.w;
  if (!result.shares_memory(out)) {
    Tensor dst = out;
    be.copy(result, dst);
  }
}

// y = conv(x, w) + b, then max(y, 0) when `relu`; b may be null (no bias).
void forward(CudaBackend& be, cuda::ConvCache& cache, const Conv2dDesc& d, const Tensor& x,
             const Tensor& w, const float* b, const Tensor& y, bool relu) {
  if (y.numel() == 0) return;
  cuda::Context& ctx = be.context();
  if (x.numel() == 0 || w.numel() == 0)
    cuda::zero(ctx, y);  // no terms: the bias alone
  else
    run_conv(be, cache, ConvPass::fwd, d, x, w, y);
  if (!b) return;
  const int64_t hw = y.dim(2) * y.dim(3);
  cuda::add_channel_bias(ctx.stream(), static_cast<float*>(y.raw()), b, y.numel(), y.dim(1), hw,
                         y.layout() == Layout::nhwc, relu);
}

}  // namespace

void CudaBackend::conv2d_fwd(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& b,
                             Tensor& y) {
  constexpr const char* op = "conv2d_fwd";
  const auto g = check_conv(op, d, {x, "x"}, {w, "w"}, {y, "y"});
  if (b.defined()) check_channels(op, {b, "b"}, g.O);
  forward(*this, *conv_cache_, d, x, w, b.defined() ? b.data<float>() : nullptr, y, false);
}

void CudaBackend::conv2d_bwd_data(const Conv2dDesc& d, const Tensor& dy, const Tensor& w,
                                  Tensor& dx) {
  check_conv("conv2d_bwd_data", d, {dx, "dx"}, {w, "w"}, {dy, "dy"});
  if (dx.numel() == 0) return;
  if (dy.numel() == 0 || w.numel() == 0)
    cuda::zero(*context_, dx);
  else
    run_conv(*this, *conv_cache_, ConvPass::bwd_data, d, dx, w, dy);
}

void CudaBackend::conv2d_bwd_weights(const Conv2dDesc& d, const Tensor& x, const Tensor& dy,
                                     Tensor& dw, Tensor& db) {
  constexpr const char* op = "conv2d_bwd_weights";
  const auto g = check_conv(op, d, {x, "x"}, {dw, "dw"}, {dy, "dy"});
  if (db.defined()) check_channels(op, {db, "db"}, g.O);
  if (dw.numel() > 0) {
    if (x.numel() == 0 || dy.numel() == 0)
      cuda::zero(*context_, dw);
    else
      run_conv(*this, *conv_cache_, ConvPass::bwd_filter, d, x, dw, dy);
  }
  if (!db.defined()) return;
  // db[o] = sum of dy over N, OH, OW: dy is [N, O, OH*OW] (nchw) or [N*OH*OW, O] (nhwc).
  const int64_t plane = g.OH * g.OW;
  const bool nhwc = dy.layout() == Layout::nhwc;
  cuda::channel_sums(context_->stream(), dy.data<float>(), nhwc ? g.N * plane : g.N, g.O,
                     nhwc ? 1 : plane, db.data<float>(), device());
}

void CudaBackend::conv2d_bn_fwd_eval(const Conv2dDesc& cd, const Tensor& x, const Tensor& w,
                                     const Tensor& b, const BatchNormDesc& bd, const Tensor& gamma,
                                     const Tensor& beta, const Tensor& running_mean,
                                     const Tensor& running_var, bool relu, Tensor& y) {
  constexpr const char* op = "conv2d_bn_fwd_eval";
  const auto g = check_conv(op, cd, {x, "x"}, {w, "w"}, {y, "y"});
  check_channels(op, {running_mean, "running_mean"}, g.O);
  check_channels(op, {running_var, "running_var"}, g.O);
  for (const Named& a : {Named{b, "b"}, Named{gamma, "gamma"}, Named{beta, "beta"}})
    if (a.t.defined()) check_channels(op, a, g.O);
  if (y.numel() == 0) return;
  // Folded every call (the parameters may have changed since the last); the scratch comes back
  // from the caching allocator, so a steady-state call allocates nothing new.
  const Tensor folded_w = Tensor::empty(w.shape(), DType::f32, w.layout(), device());  // [O, C/g, kH, kW]
  const Tensor folded_b = Tensor::empty({g.O}, DType::f32, Layout::nchw, device());     // [O]
  const auto ptr = [](const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; };
  const cuda::BatchNormFold bn{ptr(b), ptr(gamma), ptr(beta), running_mean.data<float>(),
                               running_var.data<float>(), bd.eps};
  cuda::fold_batchnorm(context_->stream(), bn, w.data<float>(), folded_w.data<float>(), g.O,
                       g.Cg * g.KH * g.KW, folded_b.data<float>());
  forward(*this, *conv_cache_, cd, x, folded_w, folded_b.data<float>(), y, relu);
}

}  // namespace mt
