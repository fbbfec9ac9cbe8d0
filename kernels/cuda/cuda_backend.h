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

  void conv2d_fwd(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& b,
                  Tensor& y) override;
  void conv2d_bwd_data(const Conv2dDesc& d, const Tensor& dy, const Tensor& w, Tensor& dx) override;
  void conv2d_bwd_weights(const Conv2dDesc& d, const Tensor& x, const Tensor& dy, Tensor& dw,
                          Tensor& db) override;
  void conv2d_bn_fwd_eval(const Conv2dDesc& cd, const Tensor& x, const Tensor& w, const Tensor& b,
                          const BatchNormDesc& bd, const Tensor& gamma, const Tensor& beta,
                          const Tensor& running_mean, const Tensor& running_var, bool relu,
                          Tensor& y) override;

  void batchnorm_fwd_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                           const Tensor& beta, Tensor& running_mean, Tensor& running_var, Tensor& y,
                           Tensor& save_mean, Tensor& save_invstd) override;
  void batchnorm_fwd_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                          const Tensor& beta, const Tensor& running_mean, const Tensor& running_var,
                          Tensor& y) override;
  void batchnorm_bwd(const BatchNormDesc& d, const Tensor& x, const Tensor& dy, const Tensor& gamma,
                     const Tensor& save_mean, const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                     Tensor& dbeta) override;
  void batchnorm_relu_fwd_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                                Tensor& y, Tensor& save_mean, Tensor& save_invstd) override;
  void batchnorm_relu_fwd_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                               const Tensor& beta, const Tensor& running_mean,
                               const Tensor& running_var, Tensor& y) override;
  void batchnorm_relu_bwd(const BatchNormDesc& d, const Tensor& x, const Tensor& y, Tensor& dy,
                          const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd,
                          Tensor& dx, Tensor& dgamma, Tensor& dbeta) override;

  void relu_fwd(const Tensor& x, Tensor& y) override;
  void relu_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) override;
  void sigmoid_fwd(const Tensor& x, Tensor& y) override;
  void sigmoid_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) override;
  void add_fwd(const Tensor& a, const Tensor& b, Tensor& y) override;
  void add_relu_fwd(const Tensor& a, const Tensor& b, Tensor& y) override;
  void add_relu_bwd(const Tensor& y, const Tensor& dy, Tensor& da, Tensor& db) override;
  void mul_fwd(const Tensor& a, const Tensor& b, Tensor& y) override;
  void mul_bwd(const Tensor& a, const Tensor& b, const Tensor& dy, Tensor& da, Tensor& db) override;
  void add_inplace(Tensor& dst, const Tensor& src) override;
  void fill(Tensor& t, double value) override;
  void copy(const Tensor& src, Tensor& dst) override;

  void maxpool_fwd(const Pool2dDesc& d, const Tensor& x, Tensor& y, Tensor& workspace) override;
  void maxpool_bwd(const Pool2dDesc& d, const Tensor& x, const Tensor& dy, const Tensor& workspace,
                   Tensor& dx) override;
  void avgpool_fwd(const Pool2dDesc& d, const Tensor& x, Tensor& y) override;
  void avgpool_bwd(const Pool2dDesc& d, const Tensor& dy, Tensor& dx) override;
  void global_avgpool_fwd(const Tensor& x, Tensor& y) override;
  void global_avgpool_bwd(const Tensor& dy, Tensor& dx) override;

  void linear_fwd(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) override;
  void linear_bwd_data(const Tensor& dy, const Tensor& w, Tensor& dx) override;
  void linear_bwd_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor& db) override;

  void concat_fwd(const std::vector<const Tensor*>& xs, Tensor& y) override;
  void concat_bwd(const Tensor& dy, const std::vector<int64_t>& channels,
                  const std::vector<Tensor*>& dxs) override;
  void channel_pad_fwd(const ChannelPadDesc& d, const Tensor& x, Tensor& y) override;
  void channel_pad_bwd(const ChannelPadDesc& d, const Tensor& dy, Tensor& dx) override;

  void dropout_fwd(double p, uint64_t seed, const Tensor& x, Tensor& y, Tensor& workspace) override;
  void dropout_bwd(double p, const Tensor& workspace, const Tensor& dy, Tensor& dx) override;

  void softmax_xent_fwd(double label_smoothing, const Tensor& logits, const Tensor& labels,
                        Tensor& loss, Tensor& probs) override;
  void softmax_xent_bwd(double label_smoothing, const Tensor& probs, const Tensor& labels,
                        const Tensor& dloss, Tensor& dlogits) override;

  void sgd_step(const SgdDesc& d, Tensor& param, const Tensor& grad, Tensor& momentum_buf) override;
  void adamw_step(const AdamWDesc& d, Tensor& param, const Tensor& grad, Tensor& exp_avg,
                  Tensor& exp_avg_sq) override;
  double sum_squares(const Tensor& t) override;
  void scale_inplace(Tensor& t, double factor) override;

  void gate_fwd(const GateDesc& d, const Tensor& x, const Tensor& logits, Tensor& y,
                Tensor& workspace) override;
  void gate_bwd(const GateDesc& d, const Tensor& x, const Tensor& dy, const Tensor& workspace,
                Tensor& dx, Tensor& dlogits) override;

  // row_ops.cu: one block per row for the sums, a grid-stride pass for the update.
  void row_stats(const Tensor& x, Tensor& out) override;
  void row_update(const Tensor& x, const Tensor& coef, Tensor& y) override;

 private:
  CudaOptions options_;
  std::unique_ptr<cuda::Context> context_;
  std::unique_ptr<cuda::ConvCache> conv_cache_;  // cuDNN descriptors and algorithms per shape
};

}  // namespace mt
