// Batch norm on oneDNN's batch_normalization primitives (jit nspc kernels for nhwc). oneDNN keeps
// the biased batch variance; the interface wants 1/sqrt(var + eps) saved and the running variance
// updated with the unbiased one, so the small [C] vectors are converted here.
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/onednn_context.h"

namespace mt {
namespace {

using dnnl::memory;
using dnnl::normalization_flags;
using dnnl::prop_kind;
namespace dn = onednn;
using Flags = normalization_flags;

Flags affine_flags(const Tensor& gamma, const Tensor& beta) {
  Flags f = Flags::none;
  if (gamma.defined()) f |= Flags::use_scale;
  if (beta.defined()) f |= Flags::use_shift;
  return f;
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

dnnl::batch_normalization_forward::primitive_desc forward_pd(prop_kind prop, const memory::desc& x,
                                                             double eps, Flags flags) {
  auto& ctx = dn::Context::get();
  dnnl::batch_normalization_forward::desc desc(prop, x, static_cast<float>(eps), flags);
  return {desc, ctx.attr(), ctx.engine()};
}

// Memory objects for the [C] vectors, bound per call; `mean`/`var` also own buffers for the
// training forward and backward (the caller keeps invstd, not the variance).
struct Entry : dn::CacheEntry {
  dnnl::primitive prim;
  memory src, dst, scale, shift, mean, var, scratch;
  memory diff_src, diff_scale, diff_shift;  // backward only
  Tensor mean_buf, var_buf, dscale_buf, dshift_buf, zero_shift;
  template <typename Pd>
  Entry(const Pd& pd, const dnnl::primitive& p, int64_t c)
      : prim(p), scratch(dn::unbound(pd.scratchpad_desc())) {
    const memory::desc cmd = dn::plain_md({c});
    scale = dn::unbound(cmd);
    shift = dn::unbound(cmd);
    mean = dn::owned(cmd, mean_buf);
    var = dn::owned(cmd, var_buf);
    diff_scale = dn::owned(cmd, dscale_buf);
    diff_shift = dn::owned(cmd, dshift_buf);
  }
};

void add_affine(Entry& e, const Tensor& gamma, const Tensor& beta,
                std::unordered_map<int, memory>& args) {
  if (gamma.defined()) {
    dn::bind(e.scale, gamma);
    args.emplace(DNNL_ARG_SCALE, e.scale);
  }
  if (beta.defined()) {
    dn::bind(e.shift, beta);
    args.emplace(DNNL_ARG_SHIFT, e.shift);
  }
}

// running = (1 - m) * running + m * batch, with the unbiased batch variance (PyTorch).
void update_running(const BatchNormDesc& d, int64_t count, const float* mean, const float* var,
                    Tensor& running_mean, Tensor& running_var, int64_t c) {
  const double m = d.momentum;
  const double unbias = count > 1 ? static_cast<double>(count) / (count - 1) : 1.0;
  float* rm = running_mean.defined() ? running_mean.data<float>() : nullptr;
  float* rv = running_var.defined() ? running_var.data<float>() : nullptr;
  for (int64_t i = 0; i < c; ++i) {
    if (rm) rm[i] = static_cast<float>((1 - m) * rm[i] + m * mean[i]);
    if (rv) rv[i] = static_cast<float>((1 - m) * rv[i] + m * var[i] * unbias);
  }
}

}  // namespace

void CpuBackend::batchnorm_fwd_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                     const Tensor& beta, Tensor& running_mean,
                                     Tensor& running_var, Tensor& y, Tensor& save_mean,
                                     Tensor& save_invstd) {
  constexpr std::string_view op = "batchnorm_fwd_train";
  check_args(op, x, {&gamma, &beta, &running_mean, &running_var, &save_mean, &save_invstd});
  cpu::check_shape(op, x, y);
  // oneDNN takes one descriptor for src and dst: produce y in x's layout when they differ.
  Tensor out = cpu::same_order(x, y) ? y : Tensor::empty(x.shape(), DType::f32, x.layout());
  const int64_t c = x.dim(1);
  const Flags flags = affine_flags(gamma, beta);
  auto& ctx = dn::Context::get();
  dn::Key key(op);
  key.add(x).add(static_cast<int64_t>(flags)).add_real(d.eps);
  auto& e = ctx.lookup<Entry>(key, [&] {
    auto pd = dn::checked(op, "batch norm for " + x.shape().str(), [&] {
      return forward_pd(prop_kind::forward_training, dn::md_of(x), d.eps, flags);
    });
    auto ent = std::make_unique<Entry>(pd, dnnl::batch_normalization_forward(pd), c);
    ent->src = dn::unbound(pd.src_desc());
    ent->dst = dn::unbound(pd.dst_desc());
    return ent;
  });
  dn::bind(e.src, x);
  dn::bind(e.dst, out);
  ctx.bind_scratchpad(e.scratch);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.src},     {DNNL_ARG_DST, e.dst},
                                       {DNNL_ARG_MEAN, e.mean},   {DNNL_ARG_VARIANCE, e.var},
                                       {DNNL_ARG_SCRATCHPAD, e.scratch}};
  add_affine(e, gamma, beta, args);
  ctx.execute(e.prim, args);
  if (!out.shares_memory(y)) copy(out, y);

  const float* mean = e.mean_buf.data<float>();
  const float* var = e.var_buf.data<float>();
  for (int64_t i = 0; i < c; ++i) {
    if (save_mean.defined()) save_mean.data<float>()[i] = mean[i];
    if (save_invstd.defined())
      save_invstd.data<float>()[i] = static_cast<float>(1.0 / std::sqrt(double(var[i]) + d.eps));
  }
  update_running(d, x.numel() / c, mean, var, running_mean, running_var, c);
}

void CpuBackend::batchnorm_fwd_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                    const Tensor& beta, const Tensor& running_mean,
                                    const Tensor& running_var, Tensor& y) {
  constexpr std::string_view op = "batchnorm_fwd_eval";
  check_args(op, x, {&gamma, &beta, &running_mean, &running_var});
  cpu::check_shape(op, x, y);
  MT_CHECK(running_mean.defined() && running_var.defined(), BackendError, "[", op,
           "] eval mode needs running statistics");
  Tensor out = cpu::same_order(x, y) ? y : Tensor::empty(x.shape(), DType::f32, x.layout());
  const Flags flags = affine_flags(gamma, beta) | Flags::use_global_stats;
  auto& ctx = dn::Context::get();
  dn::Key key(op);
  key.add(x).add(static_cast<int64_t>(flags)).add_real(d.eps);
  auto& e = ctx.lookup<Entry>(key, [&] {
    auto pd = dn::checked(op, "batch norm for " + x.shape().str(), [&] {
      return forward_pd(prop_kind::forward_inference, dn::md_of(x), d.eps, flags);
    });
    auto ent = std::make_unique<Entry>(pd, dnnl::batch_normalization_forward(pd), x.dim(1));
    ent->src = dn::unbound(pd.src_desc());
    ent->dst = dn::unbound(pd.dst_desc());
    return ent;
  });
  dn::bind(e.src, x);
  dn::bind(e.dst, out);
  dn::bind(e.mean, running_mean);
  dn::bind(e.var, running_var);
  ctx.bind_scratchpad(e.scratch);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.src},     {DNNL_ARG_DST, e.dst},
                                       {DNNL_ARG_MEAN, e.mean},   {DNNL_ARG_VARIANCE, e.var},
                                       {DNNL_ARG_SCRATCHPAD, e.scratch}};
  add_affine(e, gamma, beta, args);
  ctx.execute(e.prim, args);
  if (!out.shares_memory(y)) copy(out, y);
}

void CpuBackend::batchnorm_bwd(const BatchNormDesc& d, const Tensor& x, const Tensor& dy,
                               const Tensor& gamma, const Tensor& save_mean,
                               const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                               Tensor& dbeta) {
  constexpr std::string_view op = "batchnorm_bwd";
  check_args(op, x, {&gamma, &save_mean, &save_invstd, &dgamma, &dbeta});
  cpu::check_shape(op, x, dy);
  cpu::check_f32(op, dy);
  const int64_t c = x.dim(1);
  // One diff descriptor serves dy and dx: work in dx's layout (or x's when dx is not wanted).
  const Tensor& like = dx.defined() ? dx : x;
  const Tensor g = cpu::in_order_of(dy, like);
  Tensor gx = dx.defined() ? dx : Tensor::empty(x.shape(), DType::f32, x.layout());
  // The shift enters no gradient but dbeta; asking for it costs one reduction oneDNN fuses.
  const bool affine = gamma.defined() || dgamma.defined() || dbeta.defined();
  const Flags flags = affine ? (Flags::use_scale | Flags::use_shift) : Flags::none;
  auto& ctx = dn::Context::get();
  dn::Key key(op);
  key.add(x).add(g).add(static_cast<int64_t>(flags)).add_real(d.eps);
  auto& e = ctx.lookup<Entry>(key, [&] {
    auto pd = dn::checked(op, "batch norm backward for " + x.shape().str(), [&] {
      auto hint = forward_pd(prop_kind::forward_training, dn::md_of(x), d.eps, flags);
      dnnl::batch_normalization_backward::desc desc(
          affine ? prop_kind::backward : prop_kind::backward_data, dn::md_of(g), dn::md_of(x),
          static_cast<float>(d.eps), flags);
      return dnnl::batch_normalization_backward::primitive_desc(desc, ctx.attr(), ctx.engine(), hint);
    });
    auto ent = std::make_unique<Entry>(pd, dnnl::batch_normalization_backward(pd), c);
    ent->src = dn::unbound(pd.src_desc());
    ent->dst = dn::unbound(pd.diff_dst_desc());
    ent->diff_src = dn::unbound(pd.diff_src_desc());
    return ent;
  });
  MT_CHECK(!affine || gamma.defined(), BackendError, "[", op,
           "] dgamma/dbeta asked for without gamma");
  // oneDNN wants the variance back; the caller saved 1/sqrt(var + eps).
  float* mean = e.mean_buf.data<float>();
  float* var = e.var_buf.data<float>();
  for (int64_t i = 0; i < c; ++i) {
    const double inv = save_invstd.data<float>()[i];
    mean[i] = save_mean.data<float>()[i];
    var[i] = static_cast<float>(1.0 / (inv * inv) - d.eps);
  }
  dn::bind(e.src, x);
  dn::bind(e.dst, g);
  dn::bind(e.diff_src, gx);
  ctx.bind_scratchpad(e.scratch);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.src},
                                       {DNNL_ARG_DIFF_DST, e.dst},
                                       {DNNL_ARG_DIFF_SRC, e.diff_src},
                                       {DNNL_ARG_MEAN, e.mean},
                                       {DNNL_ARG_VARIANCE, e.var},
                                       {DNNL_ARG_SCRATCHPAD, e.scratch}};
  if (affine) {
    dn::bind(e.scale, gamma);
    args.emplace(DNNL_ARG_SCALE, e.scale);
    // NB: oneDNN 2.6 insists on a shift input with use_shift, though no gradient reads it.
    if (!e.zero_shift.defined()) {
      e.zero_shift = Tensor::zeros({c});
      dn::bind(e.shift, e.zero_shift);
    }
    args.emplace(DNNL_ARG_SHIFT, e.shift);
    args.emplace(DNNL_ARG_DIFF_SCALE, e.diff_scale);
    args.emplace(DNNL_ARG_DIFF_SHIFT, e.diff_shift);
  }
  ctx.execute(e.prim, args);
  if (dgamma.defined()) std::copy_n(e.dscale_buf.data<float>(), c, dgamma.data<float>());
  if (dbeta.defined()) std::copy_n(e.dshift_buf.data<float>(), c, dbeta.data<float>());
}

}  // namespace mt
