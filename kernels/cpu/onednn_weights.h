#pragma once
// Weights travel between the caller's PyTorch layout (OIHW, GOIHW for groups) and whatever blocked
// layout a primitive picked (format_tag::any). A primitive's cache entry owns one of these: the
// reorder primitive; the weights in the primitive's layout live in the context's shared weights
// buffer (Context::bind_weights) only for the call: each call reorders them afresh, as training
// changes them between calls, and a model's primitives need not hold a copy each.
#include <optional>

#include "kernels/cpu/onednn_context.h"

namespace mt::onednn {

// Caller layout -> primitive layout, before the primitive runs.
class WeightsIn {
 public:
  WeightsIn(const dnnl::memory::desc& user, const dnnl::memory::desc& wanted);
  // The memory to hand the primitive, holding `w`'s values.
  const dnnl::memory& prepare(const Tensor& w);

 private:
  dnnl::memory user_, mem_;
  std::optional<dnnl::reorder> reorder_;  // none when the layouts agree
};

// Primitive layout -> caller layout, after the primitive runs.
class WeightsOut {
 public:
  WeightsOut(const dnnl::memory::desc& user, const dnnl::memory::desc& produced);
  // The memory the primitive writes; then call finish() to land the values in `w`.
  const dnnl::memory& target(Tensor& w);
  void finish();

 private:
  dnnl::memory user_, mem_;
  std::optional<dnnl::reorder> reorder_;
};

}  // namespace mt::onednn
