// Optimizer updates with torch.optim semantics (the formulas are in core/backend.h and
// kernels/reference/optim.h), elementwise over flat arrays; arithmetic in double per element.
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"

namespace mt {
namespace {

// State tensors are written in place, so they must lie like the parameter.
void check_state(std::string_view op, const Tensor& param, const Tensor& state, const char* name) {
  cpu::check_f32(op, state);
  MT_CHECK(cpu::same_order(param, state), BackendError, "[", op, "] ", name, " ",
           state.shape().str(), " must have the parameter's shape ", param.shape().str(),
           " and layout");
}

}  // namespace

void CpuBackend::sgd_step(const SgdDesc& d, Tensor& param, const Tensor& grad,
                          Tensor& momentum_buf) {
  constexpr std::string_view op = "sgd_step";
  cpu::check_f32(op, {&param, &grad});
  cpu::check_shape(op, param, grad);
  const bool use_momentum = d.momentum != 0;
  if (use_momentum) {
    MT_CHECK(momentum_buf.defined(), BackendError, "[", op, "] momentum ", d.momentum,
             " needs a momentum buffer");
    check_state(op, param, momentum_buf, "momentum buffer");
  }
  const Tensor g = cpu::in_order_of(grad, param);
  float* p = param.data<float>();
  const float* pg = g.data<float>();
  float* buf = use_momentum ? momentum_buf.data<float>() : nullptr;
  const double decay = d.decoupled_weight_decay ? 1 - d.lr * d.weight_decay : 1.0;
  const double coupled_wd = d.decoupled_weight_decay ? 0.0 : d.weight_decay;
  cpu::parallel_ranges(param.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      double step = pg[i] + coupled_wd * p[i];
      if (buf) {
        const double b = d.first_step ? step : d.momentum * buf[i] + (1 - d.dampening) * step;
        buf[i] = static_cast<float>(b);
        step = d.nesterov ? step + d.momentum * b : b;
      }
      p[i] = static_cast<float>(p[i] * decay - d.lr * step);
    }
  });
}

void CpuBackend::adamw_step(const AdamWDesc& d, Tensor& param, const Tensor& grad, Tensor& exp_avg,
                            Tensor& exp_avg_sq) {
  constexpr std::string_view op = "adamw_step";
  cpu::check_f32(op, {&param, &grad});
  cpu::check_shape(op, param, grad);
  check_state(op, param, exp_avg, "exp_avg");
  check_state(op, param, exp_avg_sq, "exp_avg_sq");
  MT_CHECK(d.step >= 1, BackendError, "[", op, "] step ", d.step, " must be 1-based");
  const double bias1 = 1 - std::pow(d.beta1, static_cast<double>(d.step));
  const double bias2 = 1 - std::pow(d.beta2, static_cast<double>(d.step));
  const double decay = 1 - d.lr * d.weight_decay;
  const Tensor g = cpu::in_order_of(grad, param);
  float* p = param.data<float>();
  const float* pg = g.data<float>();
  float* m = exp_avg.data<float>();
  float* v = exp_avg_sq.data<float>();
  cpu::parallel_ranges(param.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double gi = pg[i];
      const double mi = d.beta1 * m[i] + (1 - d.beta1) * gi;
      const double vi = d.beta2 * v[i] + (1 - d.beta2) * gi * gi;
      m[i] = static_cast<float>(mi);
      v[i] = static_cast<float>(vi);
      p[i] =
          static_cast<float>(p[i] * decay - d.lr * (mi / bias1) / (std::sqrt(vi / bias2) + d.eps));
    }
  });
}

}  // namespace mt
