#pragma once
// Optimizer updates, elementwise over param and its state, with torch.optim semantics. The
// per-element arithmetic runs in double; state and parameter are stored back in T.
#include <cmath>

#include "core/backend.h"
#include "kernels/reference/eltwise.h"

namespace mt::reference {

// torch.optim.SGD (and SGDW when decoupled_weight_decay):
//   g = grad (+ wd * p unless decoupled)
//   momentum: buf = first_step ? g : momentum * buf + (1 - dampening) * g
//             g = nesterov ? g + momentum * buf : buf
//   decoupled: p *= 1 - lr * wd;   then p -= lr * g
template <typename T>
void sgd_step(const SgdDesc& d, Tensor& param, const Tensor& grad, Tensor& momentum_buf) {
  constexpr std::string_view op = "sgd_step";
  expect_dtype<T>(op, {&param, &grad, &momentum_buf});
  expect_same_shape(op, param, grad);
  const bool use_momentum = d.momentum != 0;
  if (use_momentum) {
    MT_CHECK(momentum_buf.defined(), BackendError, "[", op, "] momentum ", d.momentum,
             " needs a momentum buffer");
    expect_same_shape(op, param, momentum_buf);
  }
  // Without momentum the buffer is unused; walk param's strides in its place.
  const std::vector<int64_t>& buf_strides = use_momentum ? momentum_buf.strides() : param.strides();
  T* p = param.data<T>();
  const T* g = grad.data<T>();
  T* buf = use_momentum ? momentum_buf.data<T>() : nullptr;
  for_each_offset<3>(
      param.shape(), {param.strides(), grad.strides(), buf_strides}, [&](int64_t, const auto& o) {
        Acc step = g[o[1]];
        if (!d.decoupled_weight_decay) step += d.weight_decay * Acc(p[o[0]]);
        if (use_momentum) {
          const Acc b =
              d.first_step ? step : d.momentum * Acc(buf[o[2]]) + (1 - d.dampening) * step;
          buf[o[2]] = static_cast<T>(b);
          step = d.nesterov ? step + d.momentum * b : b;
        }
        Acc value = p[o[0]];
        if (d.decoupled_weight_decay) value *= 1 - d.lr * d.weight_decay;
        p[o[0]] = static_cast<T>(value - d.lr * step);
      });
}

// torch.optim.AdamW: p *= 1 - lr * wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
template <typename T>
void adamw_step(const AdamWDesc& d, Tensor& param, const Tensor& grad, Tensor& exp_avg,
                Tensor& exp_avg_sq) {
  constexpr std::string_view op = "adamw_step";
  expect_dtype<T>(op, {&param, &grad, &exp_avg, &exp_avg_sq});
  expect_same_shape(op, param, grad);
  expect_same_shape(op, param, exp_avg);
  expect_same_shape(op, param, exp_avg_sq);
  MT_CHECK(d.step >= 1, BackendError, "[", op, "] step ", d.step, " must be 1-based");
  const Acc bias1 = 1 - std::pow(d.beta1, Acc(d.step));
  const Acc bias2 = 1 - std::pow(d.beta2, Acc(d.step));
  T* p = param.data<T>();
  const T* g = grad.data<T>();
  T* m = exp_avg.data<T>();
  T* v = exp_avg_sq.data<T>();
  for_each_offset<4>(
      param.shape(), {param.strides(), grad.strides(), exp_avg.strides(), exp_avg_sq.strides()},
      [&](int64_t, const auto& o) {
        const Acc gi = g[o[1]];
        const Acc mi = d.beta1 * Acc(m[o[2]]) + (1 - d.beta1) * gi;
        const Acc vi = d.beta2 * Acc(v[o[3]]) + (1 - d.beta2) * gi * gi;
        m[o[2]] = static_cast<T>(mi);
        v[o[3]] = static_cast<T>(vi);
        const Acc decayed = Acc(p[o[0]]) * (1 - d.lr * d.weight_decay);
        p[o[0]] = static_cast<T>(decayed - d.lr * (mi / bias1) / (std::sqrt(vi / bias2) + d.eps));
      });
}

template <typename T>
double sum_squares(const Tensor& t) {
  expect_dtype<T>("sum_squares", {&t});
  const T* p = t.data<T>();
  Acc sum = 0;
  for (int64_t i = 0; i < t.numel(); ++i) sum += Acc(p[i]) * Acc(p[i]);  // order is irrelevant
  return sum;
}

}  // namespace mt::reference
