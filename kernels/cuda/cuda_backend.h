#pragma once
// The GPU backend: cuDNN for convolutions, cuBLAS for linear layers, own CUDA kernels for
// everything else. f32 only; activations want nhwc (cuDNN's tensor-core convolutions run on
// channels-last without transposes), though nchw tensors are accepted everywhere.
//
// Every call is asynchronous on the backend's one stream, in call order. Results reach the host
// only through copy() to a CPU tensor (which waits) or the scalar returns of sum_squares; no other
// method blocks the host. copy() is the one method whose tensors may live on different devices: a
// CPU tensor on either side is staged through pinned memory.
//
// This header holds no CUDA types, so the rest of morphtrain may include it; the definitions live
// in one file per op family (conv2d.cpp, batchnorm.cu, eltwise.cu, ...).
#include <memory>

#include "core/backend.h"

namespace mt {

namespace cuda {
class Context;
class ConvCache;
}  // namespace cuda

struct CudaOptions {
  int device = 0;
  // TF32 tensor cores for convolutions and matrix products (10-bit mantissa products, f32
  // accumulation): PyTorch's default for convolutions. Off gives full f32 (the tests use it).
  bool allow_tf32 = true;
};

class CudaBackend final : public KernelBackend {
 public:
  // Throws a BackendError that says so when no GPU is visible.
  explicit CudaBackend(CudaOptions options = {});
  ~CudaBackend() override;

  std::string_view name() const override { return "cuda"; }
  Device device() const override { return Device::cuda(options_.device); }
  Layout activation_layout() const override { return Layout::nhwc; }
  bool supports(DType dtype) const override { return dtype == DType::f32; }
  const CudaOptions& options() const { return options_; }
  cuda::Context& context() { return *context_; }
  // Waits until every queued call has finished (benchmarks, and before reading timings).
  void synchronize();

  // The kernels of core/backend_kernels.inc, one override each (row_ops.cu: one block per row
  // for the sums, a grid-stride pass for the update).
#define MT_KERNEL(ret, name, params) ret name params override;
#include "core/backend_kernels.inc"
#undef MT_KERNEL

  void conv2d_bn_fwd_eval(const Conv2dDesc& cd, const Tensor& x, const Tensor& w, const Tensor& b,
                          const BatchNormDesc& bd, const Tensor& gamma, const Tensor& beta,
                          const Tensor& running_mean, const Tensor& running_var, bool relu,
                          Tensor& y) override;

  void batchnorm_relu_fwd_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                                Tensor& y, Tensor& save_mean, Tensor& save_invstd) override;
  void batchnorm_relu_fwd_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                               const Tensor& beta, const Tensor& running_mean,
                               const Tensor& running_var, Tensor& y) override;
  void batchnorm_relu_bwd(const BatchNormDesc& d, const Tensor& x, const Tensor& y, Tensor& dy,
                          const Tensor& gamma, const Tensor& beta, const Tensor& save_mean,
                          const Tensor& save_invstd,
                          Tensor& dx, Tensor& dgamma, Tensor& dbeta) override;

  void add_relu_fwd(const Tensor& a, const Tensor& b, Tensor& y) override;
  void add_relu_bwd(const Tensor& y, const Tensor& dy, Tensor& da, Tensor& db) override;

 private:
  CudaOptions options_;
  std::unique_ptr<cuda::Context> context_;
  std::unique_ptr<cuda::ConvCache> conv_cache_;  // cuDNN descriptors and algorithms per shape
};

}  // namespace mt
