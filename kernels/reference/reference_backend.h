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

  // The kernels of core/backend_kernels.inc, one override each.
#define MT_KERNEL(ret, name, params) ret name params override;
#include "core/backend_kernels.inc"
#undef MT_KERNEL

  bool recomputes_batchnorm() const override { return true; }
  void batchnorm_fwd_saved(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                           const Tensor& save_mean, const Tensor& save_invstd, bool relu, Tensor& y) override;
};

}  // namespace mt
