#pragma once
// The fast CPU backend: oneDNN 2.6 primitives for convolution, batch norm, pooling, eltwise and
// inner product, OpenMP loops for the rest. f32 only; activations want nhwc (oneDNN runs 3-20x
// slower on plain nchw), though nchw tensors are accepted everywhere.
#include "core/backend.h"

namespace mt {

class CpuBackend : public KernelBackend {
 public:
  std::string_view name() const override { return "cpu"; }
  Device device() const override { return Device::cpu(); }
  Layout activation_layout() const override { return Layout::nhwc; }
  bool supports(DType dtype) const override { return dtype == DType::f32; }

  // The kernels of core/backend_kernels.inc, one override each.
#define MT_KERNEL(ret, name, params) ret name params override;
#include "core/backend_kernels.inc"
#undef MT_KERNEL

  // Fused epilogues: the ReLU is a clamp inside the normalising (or adding) pass.
  void batchnorm_relu_fwd_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                                Tensor& y, Tensor& save_mean, Tensor& save_invstd) override;
  void batchnorm_relu_fwd_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                               const Tensor& beta, const Tensor& running_mean,
                               const Tensor& running_var, Tensor& y) override;
  void add_relu_fwd(const Tensor& a, const Tensor& b, Tensor& y) override;
  void add_relu_bwd(const Tensor& y, const Tensor& dy, Tensor& da, Tensor& db) override;
  // Recomputation: the training forward's coefficients come from the saved statistics, so the
  // same loop writes the same bits.
  bool recomputes_batchnorm() const override { return true; }
  // The mask from x (the forward's coefficients), so that y is not read: two passes over memory
  // instead of three, and no masked copy of dy.
  void batchnorm_relu_bwd(const BatchNormDesc& d, const Tensor& x, const Tensor& y, Tensor& dy, const Tensor& gamma,
                          const Tensor& beta, const Tensor& save_mean, const Tensor& save_invstd, Tensor& dx,
                          Tensor& dgamma, Tensor& dbeta) override;
  void batchnorm_fwd_saved(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                           const Tensor& save_mean, const Tensor& save_invstd, bool relu, Tensor& y) override;
  void conv2d_bn_fwd_eval(const Conv2dDesc& cd, const Tensor& x, const Tensor& w, const Tensor& b,
                          const BatchNormDesc& bd, const Tensor& gamma, const Tensor& beta,
                          const Tensor& running_mean, const Tensor& running_var, bool relu,
                          Tensor& y) override;
  void conv2d_bn_add_fwd_eval(const Conv2dDesc& cd, const Tensor& x, const Tensor& w, const Tensor& b,
                              const BatchNormDesc& bd, const Tensor& gamma, const Tensor& beta,
                              const Tensor& running_mean, const Tensor& running_var, bool relu,
                              Tensor& y) override;

 private:
  // accumulate: y holds a residual on entry, added to the convolution (before the ReLU).
  // evaluation: the folded conv + batch norm of inference (it picks its algorithm by a rule of
  // its own, kernels/cpu/conv2d.cpp).
  void conv_forward(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& b,
                    Tensor& y, bool relu, bool accumulate = false, bool evaluation = false);
  void batchnorm_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                       const Tensor& beta, Tensor& running_mean, Tensor& running_var, Tensor& y,
                       Tensor& save_mean, Tensor& save_invstd, bool relu);
  void batchnorm_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                      const Tensor& beta, const Tensor& running_mean, const Tensor& running_var,
                      Tensor& y, bool relu);
  // relu: through the fused ReLU, its mask made from x with beta (defined or not, as the forward).
  void batchnorm_backward(const Tensor& x, const Tensor& dy, const Tensor& gamma, const Tensor& beta,
                          const Tensor& save_mean, const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                          Tensor& dbeta, bool relu);
};

}  // namespace mt
