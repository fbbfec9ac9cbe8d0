#pragma once
// The oracle backend: plain loops over tensors of any strides, in f32 and f64. Every other
// backend is tested against it, and it is tested against finite differences and hand-computed
// values (tests/kernels/test_reference_*.cpp). Clarity over speed; the math lives in one templated
// header per op family next to this file.
#include "core/backend.h"

namespace mt {

class ReferenceBackend : public KernelBackend {
 public:
  std::string_view name() const override { return "reference"; }
  Device device() const override { return Device::cpu(); }
  // Kernels accept any layout; nchw is merely what the executor should allocate.
  Layout activation_layout() const override { return Layout::nchw; }
  bool supports(DType dtype) const override { return dtype == DType::f32 || dtype == DType::f64; }

  void conv2d_fwd(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& b,
                  Tensor& y) override;
  void conv2d_bwd_data(const Conv2dDesc& d, const Tensor& dy, const Tensor& w, Tensor& dx) override;
  void conv2d_bwd_weights(const Conv2dDesc& d, const Tensor& x, const Tensor& dy, Tensor& dw,
                          Tensor& db) override;

  void batchnorm_fwd_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                           const Tensor& beta, Tensor& running_mean, Tensor& running_var, Tensor& y,
                           Tensor& save_mean, Tensor& save_invstd) override;
  void batchnorm_fwd_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                          const Tensor& beta, const Tensor& running_mean, const Tensor& running_var,
                          Tensor& y) override;
  void batchnorm_bwd(const BatchNormDesc& d, const Tensor& x, const Tensor& dy, const Tensor& gamma,
                     const Tensor& save_mean, const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                     Tensor& dbeta) override;

  void relu_fwd(const Tensor& x, Tensor& y) override;
  void relu_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) override;
  void sigmoid_fwd(const Tensor& x, Tensor& y) override;
  void sigmoid_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) override;
  void add_fwd(const Tensor& a, const Tensor& b, Tensor& y) override;
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

  void row_stats(const Tensor& x, Tensor& out) override;
  void row_update(const Tensor& x, const Tensor& coef, Tensor& y) override;
};

}  // namespace mt
