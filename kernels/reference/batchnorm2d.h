#pragma once
// Batch normalisation over [N, C, H, W] per channel, PyTorch's BatchNorm2d:
//   train: normalise with the batch mean and the biased batch variance; save mean and
//          invstd = 1 / sqrt(var + eps); running = (1 - m) * running + m * batch, where the
//          running variance takes the unbiased variance (M / (M - 1), M = N * H * W).
//   eval:  normalise with the running statistics.
// gamma/beta undefined mean 1 and 0 (affine = False).
#include <cmath>

#include "core/backend.h"
#include "kernels/reference/eltwise.h"
#include "kernels/reference/strided.h"

namespace mt::reference {

// Reads a [C] tensor (or its default when undefined) as double.
template <typename T>
Acc channel_value(const Tensor& t, int64_t c, Acc fallback) {
  return t.defined() ? Acc(t.data<T>()[c * t.stride(0)]) : fallback;
}

template <typename T>
void set_channel(Tensor& t, int64_t c, Acc v) {
  if (t.defined()) t.data<T>()[c * t.stride(0)] = static_cast<T>(v);
}

inline void expect_per_channel(std::string_view op, const Tensor& x,
                               std::initializer_list<const Tensor*> params) {
  expect_rank(op, "x", x, 4);
  for (const Tensor* p : params)
    if (p->defined()) expect_shape(op, "per-channel tensor", *p, Shape{x.dim(1)});
}

// y[.., c, ..] = (x - mean) * invstd * gamma + beta over one channel.
template <typename T>
void normalise_channel(const Tensor& x, Tensor& y, int64_t c, Acc mean, Acc invstd, Acc gamma,
                       Acc beta) {
  const View4<const T> X = view4<const T>(x);
  const View4<T> Y = view4<T>(y);
  for (int64_t n = 0; n < x.dim(0); ++n)
    for (int64_t h = 0; h < x.dim(2); ++h)
      for (int64_t w = 0; w < x.dim(3); ++w)
        Y(n, c, h, w) = static_cast<T>((Acc(X(n, c, h, w)) - mean) * invstd * gamma + beta);
}

template <typename T>
void batchnorm_fwd_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                         const Tensor& beta, Tensor& running_mean, Tensor& running_var, Tensor& y,
                         Tensor& save_mean, Tensor& save_invstd) {
  constexpr std::string_view op = "batchnorm_fwd_train";
  expect_dtype<T>(op,
                  {&x, &gamma, &beta, &running_mean, &running_var, &y, &save_mean, &save_invstd});
  expect_per_channel(op, x, {&gamma, &beta, &running_mean, &running_var, &save_mean, &save_invstd});
  expect_shape(op, "y", y, x.shape());
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), M = N * H * W;
  MT_CHECK(M > 1, ShapeError, "[", op, "] x ", x.shape().str(),
           ": training needs more than one value per channel");
  const View4<const T> X = view4<const T>(x);
  for (int64_t c = 0; c < C; ++c) {
    Acc sum = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) sum += X(n, c, h, w);
    const Acc mean = sum / M;
    Acc sq = 0;  // second pass: no cancellation from E[x^2] - E[x]^2
    for (int64_t n = 0; n < N; ++n)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) sq += (X(n, c, h, w) - mean) * (X(n, c, h, w) - mean);
    const Acc var = sq / M;
    const Acc invstd = 1 / std::sqrt(var + d.eps);
    // Normalise with the statistics as saved (rounded to T), as backward and a recomputation
    // (batchnorm_fwd_saved) see them.
    normalise_channel<T>(x, y, c, Acc(static_cast<T>(mean)), Acc(static_cast<T>(invstd)),
                         channel_value<T>(gamma, c, 1), channel_value<T>(beta, c, 0));
    set_channel<T>(save_mean, c, mean);
    set_channel<T>(save_invstd, c, invstd);
    const Acc m = d.momentum;
    set_channel<T>(running_mean, c, (1 - m) * channel_value<T>(running_mean, c, 0) + m * mean);
    set_channel<T>(running_var, c,
                   (1 - m) * channel_value<T>(running_var, c, 1) + m * sq / Acc(M - 1));
  }
}

// The training forward's output again from its saved statistics, then a ReLU if `relu`: the
// same values as batchnorm_fwd_train (followed by relu_fwd) wrote.
template <typename T>
void batchnorm_fwd_saved(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& save_mean,
                         const Tensor& save_invstd, bool relu, Tensor& y) {
  constexpr std::string_view op = "batchnorm_fwd_saved";
  expect_dtype<T>(op, {&x, &gamma, &beta, &save_mean, &save_invstd, &y});
  expect_per_channel(op, x, {&gamma, &beta, &save_mean, &save_invstd});
  MT_CHECK(save_mean.defined() && save_invstd.defined(), BackendError, "[", op,
           "] needs the mean and invstd saved by batchnorm_fwd_train");
  expect_shape(op, "y", y, x.shape());
  for (int64_t c = 0; c < x.dim(1); ++c)
    normalise_channel<T>(x, y, c, channel_value<T>(save_mean, c, 0), channel_value<T>(save_invstd, c, 1),
                         channel_value<T>(gamma, c, 1), channel_value<T>(beta, c, 0));
  if (relu) relu_fwd<T>(y, y);
}

template <typename T>
void batchnorm_fwd_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                        const Tensor& beta, const Tensor& running_mean, const Tensor& running_var,
                        Tensor& y) {
  constexpr std::string_view op = "batchnorm_fwd_eval";
  expect_dtype<T>(op, {&x, &gamma, &beta, &running_mean, &running_var, &y});
  expect_per_channel(op, x, {&gamma, &beta, &running_mean, &running_var});
  MT_CHECK(running_mean.defined() && running_var.defined(), BackendError, "[", op,
           "] needs the running statistics");
  expect_shape(op, "y", y, x.shape());
  for (int64_t c = 0; c < x.dim(1); ++c) {
    const Acc invstd = 1 / std::sqrt(channel_value<T>(running_var, c, 1) + d.eps);
    normalise_channel<T>(x, y, c, channel_value<T>(running_mean, c, 0), invstd,
                         channel_value<T>(gamma, c, 1), channel_value<T>(beta, c, 0));
  }
}

// With xhat = (x - mean) * invstd and M = N * H * W, per channel:
//   dbeta = sum dy,  dgamma = sum dy * xhat,
//   dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma).
template <typename T>
void batchnorm_bwd(const BatchNormDesc&, const Tensor& x, const Tensor& dy, const Tensor& gamma,
                   const Tensor& save_mean, const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                   Tensor& dbeta) {
  constexpr std::string_view op = "batchnorm_bwd";
  expect_dtype<T>(op, {&x, &dy, &gamma, &save_mean, &save_invstd, &dx, &dgamma, &dbeta});
  expect_per_channel(op, x, {&gamma, &save_mean, &save_invstd, &dgamma, &dbeta});
  MT_CHECK(save_mean.defined() && save_invstd.defined(), BackendError, "[", op,
           "] needs the saved mean and invstd of a training forward");
  expect_shape(op, "dy", dy, x.shape());
  if (dx.defined()) expect_shape(op, "dx", dx, x.shape());
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), M = N * H * W;
  const View4<const T> X = view4<const T>(x), DY = view4<const T>(dy);
  for (int64_t c = 0; c < C; ++c) {
    const Acc mean = channel_value<T>(save_mean, c, 0),
              invstd = channel_value<T>(save_invstd, c, 1);
    Acc sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) {
          sum_dy += DY(n, c, h, w);
          sum_dy_xhat += Acc(DY(n, c, h, w)) * (X(n, c, h, w) - mean) * invstd;
        }
    set_channel<T>(dbeta, c, sum_dy);
    set_channel<T>(dgamma, c, sum_dy_xhat);
    if (!dx.defined()) continue;
    const View4<T> DX = view4<T>(dx);
    const Acc k = channel_value<T>(gamma, c, 1) * invstd / M;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) {
          const Acc xhat = (X(n, c, h, w) - mean) * invstd;
          DX(n, c, h, w) =
              static_cast<T>(k * (M * Acc(DY(n, c, h, w)) - sum_dy - xhat * sum_dy_xhat));
        }
  }
}

}  // namespace mt::reference
