// CudaBackend optimizer updates with torch.optim semantics (kernels/reference/optim.h), and the
// two helpers of gradient clipping. Elementwise over the flat memory of a parameter and its state
// (which lie alike); the per-element arithmetic runs in double like the reference's, so f32
// results match it to the last bit in almost every element.
#include <algorithm>
#include <cmath>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

namespace mt {
namespace {

using cuda::kThreads;

// buf is null without momentum.
__global__ void sgd_kernel(SgdDesc d, float* param, const float* grad, float* buf, int64_t n) {
  for (int64_t i : cuda::grid_stride(n)) {
    double step = grad[i];
    if (!d.decoupled_weight_decay) step += d.weight_decay * double(param[i]);
    if (buf) {
      const double b =
          d.first_step ? step : d.momentum * double(buf[i]) + (1 - d.dampening) * step;
      buf[i] = static_cast<float>(b);
      step = d.nesterov ? step + d.momentum * b : b;
    }
    double value = param[i];
    if (d.decoupled_weight_decay) value *= 1 - d.lr * d.weight_decay;
    param[i] = static_cast<float>(value - d.lr * step);
  }
}

// bias1/bias2: 1 - beta^step, computed once on the host.
__global__ void adamw_kernel(AdamWDesc d, double bias1, double bias2, float* param,
                             const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n) {
  for (int64_t i : cuda::grid_stride(n)) {
    const double g = grad[i];
    const double m = d.beta1 * double(exp_avg[i]) + (1 - d.beta1) * g;
    const double v = d.beta2 * double(exp_avg_sq[i]) + (1 - d.beta2) * g * g;
    exp_avg[i] = static_cast<float>(m);
    exp_avg_sq[i] = static_cast<float>(v);
    const double decayed = double(param[i]) * (1 - d.lr * d.weight_decay);
    param[i] = static_cast<float>(decayed - d.lr * (m / bias1) / (sqrt(v / bias2) + d.eps));
  }
}

// Stage 1 of sum_squares: one double partial per block.
__global__ void sum_squares_kernel(const float* t, int64_t n, double* partial) {
  double sum = 0;
  for (int64_t i : cuda::grid_stride(n)) sum += double(t[i]) * double(t[i]);
  sum = cuda::block_sum(sum);
  if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

// Stage 2: one block adds the partials.
__global__ void sum_partials_kernel(const double* partial, int count, double* total) {
  double sum = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) sum += partial[i];
  sum = cuda::block_sum(sum);
  if (threadIdx.x == 0) *total = sum;
}

__global__ void scale_kernel(float* t, int64_t n, double factor) {
  for (int64_t i : cuda::grid_stride(n)) t[i] = static_cast<float>(t[i] * factor);
}

// The kernels walk flat memory, so every tensor must lie like the parameter.
void check_state(const char* op, const Tensor& param, const Tensor& state, const char* what) {
  cuda::check_device_tensor(state, op, what);
  MT_CHECK(state.shape() == param.shape() && state.strides() == param.strides(), BackendError,
           "[cuda ", op, "] ", what, " ", state.shape().str(),
           " must have the parameter's shape ", param.shape().str(), " and layout");
}

// The gradient in the parameter's memory order: itself, or a relaid copy.
Tensor grad_like(CudaBackend& be, const char* op, const Tensor& grad, const Tensor& param) {
  cuda::check_device_tensor(param, op, "param");
  cuda::check_device_tensor(grad, op, "grad");
  cuda::check_same_shape(param, grad, op);
  return cuda::in_order_of(be, grad, param);
}

}  // namespace

void CudaBackend::sgd_step(const SgdDesc& d, Tensor& param, const Tensor& grad,
                           Tensor& momentum_buf) {
  constexpr const char* op = "sgd_step";
  const Tensor g = grad_like(*this, op, grad, param);
  const bool use_momentum = d.momentum != 0;
  if (use_momentum) {
    MT_CHECK(momentum_buf.defined(), BackendError, "[cuda ", op, "] momentum ", d.momentum,
             " needs a momentum buffer");
    check_state(op, param, momentum_buf, "momentum buffer");
  }
  const int64_t n = param.numel();
  if (n == 0) return;
  sgd_kernel<<<cuda::blocks_for(n), kThreads, 0, context_->stream()>>>(
      d, param.data<float>(), g.data<float>(),
      use_momentum ? momentum_buf.data<float>() : nullptr, n);
  MT_CUDA_CHECK_LAUNCH();
}

void CudaBackend::adamw_step(const AdamWDesc& d, Tensor& param, const Tensor& grad,
                             Tensor& exp_avg, Tensor& exp_avg_sq) {
  constexpr const char* op = "adamw_step";
  const Tensor g = grad_like(*this, op, grad, param);
  check_state(op, param, exp_avg, "exp_avg");
  check_state(op, param, exp_avg_sq, "exp_avg_sq");
  MT_CHECK(d.step >= 1, BackendError, "[cuda ", op, "] step ", d.step, " must be 1-based");
  const double bias1 = 1 - std::pow(d.beta1, static_cast<double>(d.step));
  const double bias2 = 1 - std::pow(d.beta2, static_cast<double>(d.step));
  const int64_t n = param.numel();
  if (n == 0) return;
  adamw_kernel<<<cuda::blocks_for(n), kThreads, 0, context_->stream()>>>(
      d, bias1, bias2, param.data<float>(), g.data<float>(), exp_avg.data<float>(),
      exp_avg_sq.data<float>(), n);
  MT_CUDA_CHECK_LAUNCH();
}

// One of the few methods that waits for the GPU: the caller needs the number on the host.
double CudaBackend::sum_squares(const Tensor& t) {
  cuda::check_device_tensor(t, "sum_squares", "t");
  const int64_t n = t.numel();
  if (n == 0) return 0;
  const int blocks =
      static_cast<int>(std::min<int64_t>(cuda::blocks_for(n), cuda::reduction_blocks_limit()));
  auto* partial = static_cast<double*>(context_->workspace(sizeof(double) * (blocks + 1)));
  double* total = partial + blocks;
  const cudaStream_t stream = context_->stream();
  sum_squares_kernel<<<blocks, kThreads, 0, stream>>>(t.data<float>(), n, partial);
  MT_CUDA_CHECK_LAUNCH();
  sum_partials_kernel<<<1, kThreads, 0, stream>>>(partial, blocks, total);
  MT_CUDA_CHECK_LAUNCH();
  double result = 0;
  MT_CUDA_CHECK(cudaMemcpyAsync(&result, total, sizeof(double), cudaMemcpyDeviceToHost, stream));
  context_->synchronize();
  return result;
}

void CudaBackend::scale_inplace(Tensor& t, double factor) {
  cuda::check_device_tensor(t, "scale_inplace", "t");
  const int64_t n = t.numel();
  if (n == 0) return;
  scale_kernel<<<cuda::blocks_for(n), kThreads, 0, context_->stream()>>>(t.data<float>(), n,
                                                                         factor);
  MT_CUDA_CHECK_LAUNCH();
}

}  // namespace mt
