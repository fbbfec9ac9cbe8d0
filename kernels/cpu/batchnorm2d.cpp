// Batch norm on our own loops (batchnorm_loops.h). oneDNN 2.6 has a fast jit only for nhwc with C
// a multiple of 16; other widths fall to its generic nspc kernel, about 10x slower, and pruned
// models have such widths everywhere. The forward reads x twice (statistics, normalise), the
// backward reads x and dy twice; only [C] vectors are computed in between.
#include <cmath>

#include "kernels/cpu/batchnorm_loops.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"

namespace mt {
namespace {

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

// y = scale[c] * x + offset[c] (then a ReLU), in x's layout, through a temporary where y lies
// otherwise.
void write_affine(const cpu::ChannelGeometry& g, const Tensor& x, const float* scale, const float* offset,
                  bool relu, Tensor& y) {
  Tensor out = cpu::output_in_layout(y, x.layout());
  cpu::channel_affine(g, x.data<float>(), nullptr, scale, nullptr, offset, out.data<float>(), relu);
  if (!out.shares_memory(y)) cpu::copy_into(out, y);
}

// The affine map y = scale * x + offset of channel c, from the statistics as saved (in f32): the
// training forward and its recomputation (batchnorm_fwd_saved) derive identical coefficients.
void saved_affine(const Tensor& gamma, const Tensor& beta, int64_t c, float mean, float invstd, float& scale,
                  float& offset) {
  scale = static_cast<float>(value_or(gamma, c, 1) * double(invstd));
  offset = static_cast<float>(value_or(beta, c, 0) - double(mean) * scale);
}

}  // namespace

void CpuBackend::batchnorm_fwd_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                     const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                                     Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  batchnorm_train(d, x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd, false);
}

void CpuBackend::batchnorm_relu_fwd_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                          const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                                          Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  batchnorm_train(d, x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd, true);
}

void CpuBackend::batchnorm_fwd_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                    const Tensor& beta, const Tensor& running_mean,
                                    const Tensor& running_var, Tensor& y) {
  batchnorm_eval(d, x, gamma, beta, running_mean, running_var, y, false);
}

void CpuBackend::batchnorm_relu_fwd_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                         const Tensor& beta, const Tensor& running_mean,
                                         const Tensor& running_var, Tensor& y) {
  batchnorm_eval(d, x, gamma, beta, running_mean, running_var, y, true);
}

void CpuBackend::batchnorm_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                 const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                                 Tensor& y, Tensor& save_mean, Tensor& save_invstd, bool relu) {
  constexpr std::string_view op = "batchnorm_fwd_train";
  check_args(op, x, {&gamma, &beta, &running_mean, &running_var, &save_mean, &save_invstd});
  cpu::check_f32(op, y);
  cpu::check_shape(op, x, y);
  const cpu::ChannelGeometry g = cpu::channel_geometry(x);
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
  cpu::shifted_sums(g, px, k, s1, s2);
  const double unbias = M > 1 ? static_cast<double>(M) / (M - 1) : 1.0, m = d.momentum;
  for (int64_t c = 0; c < C; ++c) {
    const double dm = s1[c] / M, mean = k[c] + dm;
    const double var = std::max(0.0, s2[c] / M - dm * dm);
    const double invstd = 1 / std::sqrt(var + d.eps);
    saved_affine(gamma, beta, c, static_cast<float>(mean), static_cast<float>(invstd), scale[c], offset[c]);
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
  write_affine(g, x, scale, offset, relu, y);
}

void CpuBackend::batchnorm_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                const Tensor& beta, const Tensor& running_mean,
                                const Tensor& running_var, Tensor& y, bool relu) {
  constexpr std::string_view op = "batchnorm_fwd_eval";
  check_args(op, x, {&gamma, &beta, &running_mean, &running_var});
  cpu::check_f32(op, y);
  cpu::check_shape(op, x, y);
  MT_CHECK(running_mean.defined() && running_var.defined(), BackendError, "[", op,
           "] eval mode needs running statistics");
  const cpu::ChannelGeometry g = cpu::channel_geometry(x);
  Tensor coef = Tensor::empty({2, g.C});  // [2, C]: scale, offset
  float* scale = coef.data<float>();
  float* offset = scale + g.C;
  for (int64_t c = 0; c < g.C; ++c) {
    const double invstd = 1 / std::sqrt(double(running_var.data<float>()[c]) + d.eps);
    scale[c] = static_cast<float>(value_or(gamma, c, 1) * invstd);
    offset[c] =
        static_cast<float>(value_or(beta, c, 0) - running_mean.data<float>()[c] * double(scale[c]));
  }
  write_affine(g, x, scale, offset, relu, y);
}

void CpuBackend::batchnorm_fwd_saved(const BatchNormDesc&, const Tensor& x, const Tensor& gamma,
                                     const Tensor& beta, const Tensor& save_mean, const Tensor& save_invstd,
                                     bool relu, Tensor& y) {
  constexpr std::string_view op = "batchnorm_fwd_saved";
  check_args(op, x, {&gamma, &beta, &save_mean, &save_invstd});
  cpu::check_f32(op, y);
  cpu::check_shape(op, x, y);
  MT_CHECK(save_mean.defined() && save_invstd.defined(), BackendError, "[", op,
           "] needs the mean and invstd saved by batchnorm_fwd_train");
  const cpu::ChannelGeometry g = cpu::channel_geometry(x);
  Tensor coef = Tensor::empty({2, g.C});  // [2, C]: scale, offset
  float* scale = coef.data<float>();
  float* offset = scale + g.C;
  for (int64_t c = 0; c < g.C; ++c)
    saved_affine(gamma, beta, c, save_mean.data<float>()[c], save_invstd.data<float>()[c], scale[c], offset[c]);
  write_affine(g, x, scale, offset, relu, y);
}

// With xhat = (x - mean) * invstd and sums over the M positions of a channel:
//   dbeta = sum dy, dgamma = sum dy * xhat,
//   dx = gamma * invstd * (dy - dbeta / M - xhat * dgamma / M),
// which is k1 * dy + k2 * x + k3 per channel. Through the fused ReLU, dy is masked where the
// forward's scale * x + offset was not positive: the mask is made on the fly, from x.
void CpuBackend::batchnorm_bwd(const BatchNormDesc&, const Tensor& x, const Tensor& dy,
                               const Tensor& gamma, const Tensor& save_mean,
                               const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                               Tensor& dbeta) {
  batchnorm_backward(x, dy, gamma, Tensor(), save_mean, save_invstd, dx, dgamma, dbeta, false);
}

void CpuBackend::batchnorm_relu_bwd(const BatchNormDesc&, const Tensor& x, const Tensor&, Tensor& dy,
                                    const Tensor& gamma, const Tensor& beta, const Tensor& save_mean,
                                    const Tensor& save_invstd, Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  batchnorm_backward(x, dy, gamma, beta, save_mean, save_invstd, dx, dgamma, dbeta, true);
}

void CpuBackend::batchnorm_backward(const Tensor& x, const Tensor& dy, const Tensor& gamma, const Tensor& beta,
                                    const Tensor& save_mean, const Tensor& save_invstd, Tensor& dx,
                                    Tensor& dgamma, Tensor& dbeta, bool relu) {
  const std::string_view op = relu ? "batchnorm_relu_bwd" : "batchnorm_bwd";
  check_args(op, x, {&gamma, &beta, &save_mean, &save_invstd, &dgamma, &dbeta});
  cpu::check_f32(op, {&dy, &dx});
  cpu::check_shape(op, x, dy);
  MT_CHECK(save_mean.defined() && save_invstd.defined(), BackendError, "[", op,
           "] needs the mean and invstd saved by batchnorm_fwd_train");
  const cpu::ChannelGeometry g = cpu::channel_geometry(x);
  const int64_t C = g.C;
  const double M = static_cast<double>(g.M);
  const Tensor grad = cpu::in_layout(dy, x.layout());
  Tensor sums = Tensor::empty({2, C}, DType::f64);  // [2, C]
  Tensor coef = Tensor::empty({5, C});              // [5, C]: k1, k2, k3, the forward's scale, offset
  double* s1 = sums.data<double>();
  double* s2 = s1 + C;
  const float* mean = save_mean.data<float>();
  const float* invstd = save_invstd.data<float>();
  const float* pg = grad.data<float>();
  const float* px = x.data<float>();
  float* k1 = coef.data<float>();
  float* k2 = k1 + C;
  float* k3 = k2 + C;
  float* scale = k3 + C;
  float* offset = scale + C;
  if (relu) {
    for (int64_t c = 0; c < C; ++c) saved_affine(gamma, beta, c, mean[c], invstd[c], scale[c], offset[c]);
    cpu::masked_grad_sums(g, pg, px, mean, scale, offset, s1, s2);
  } else {
    cpu::grad_sums(g, pg, px, mean, s1, s2);
  }
  for (int64_t c = 0; c < C; ++c) {
    const double is = invstd[c], gm = value_or(gamma, c, 1);
    if (dgamma.defined()) dgamma.data<float>()[c] = static_cast<float>(s2[c] * is);
    if (dbeta.defined()) dbeta.data<float>()[c] = static_cast<float>(s1[c]);
    const double a = gm * is, b = -gm * is * is * is * s2[c] / M;
    k1[c] = static_cast<float>(a);
    k2[c] = static_cast<float>(b);
    k3[c] = static_cast<float>(-a * s1[c] / M - b * mean[c]);
  }
  if (!dx.defined()) return;
  cpu::check_shape(op, x, dx);
  Tensor out = cpu::output_in_layout(dx, x.layout());
  if (relu)
    cpu::masked_channel_affine(g, pg, px, k1, k2, k3, scale, offset, out.data<float>());
  else
    cpu::channel_affine(g, pg, px, k1, k2, k3, out.data<float>());
  if (!out.shares_memory(dx)) cpu::copy_into(out, dx);
}

}  // namespace mt
