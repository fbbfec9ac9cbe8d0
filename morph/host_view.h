#pragma once
// Element access to a row-major f32 or f64 host tensor as double: the ResRep code reads and
// writes parameters and gradients in whatever float type the model was built with.
#include <string>

#include "core/tensor.h"

namespace mt::morph {

class HostView {
 public:
  HostView(const Tensor& t, const std::string& name) {
    MT_CHECK(t.defined() && t.layout() == Layout::nchw && t.device() == Device::cpu() &&
                 (t.dtype() == DType::f32 || t.dtype() == DType::f64),
             BackendError, "[resrep] '", name, "' must be a row-major f32 or f64 host tensor, got ",
             dtype_name(t.dtype()), t.layout() == Layout::nhwc ? " nhwc" : "", " on ", t.device().str());
    if (t.dtype() == DType::f64) d_ = t.data<double>();
    else f_ = t.data<float>();
    n_ = t.numel();
  }
  double operator[](int64_t i) const { return d_ ? d_[i] : static_cast<double>(f_[i]); }
  void set(int64_t i, double v) const {
    if (d_) d_[i] = v;
    else f_[i] = static_cast<float>(v);
  }
  int64_t size() const { return n_; }

 private:
  double* d_ = nullptr;
  float* f_ = nullptr;
  int64_t n_ = 0;
};

}  // namespace mt::morph
