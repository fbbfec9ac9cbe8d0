#pragma once
// Operands travel between the caller's layout and whatever layout a primitive picked
// (format_tag::any): weights between PyTorch's OIHW (GOIHW for groups) and a blocked layout,
// activations between nhwc and the 16-channel blocks of a Winograd convolution. A primitive's
// cache entry owns one of these per operand: the reorder primitive, if the layouts differ at all;
// the operand in the primitive's layout lives in one of the context's shared buffers
// (Context::Shared) only for the call, since it is reordered afresh on every call (training
// changes weights between calls; activations are new each call), and a model's primitives need
// not hold a copy each. Where the layouts agree the primitive reads or writes the caller's memory.
#include <optional>

#include "kernels/cpu/onednn_context.h"

namespace mt::onednn {

// Caller layout -> primitive layout, before the primitive runs.
class StagedIn {
 public:
  StagedIn(const dnnl::memory::desc& user, const dnnl::memory::desc& wanted,
           Context::Shared buffer = Context::Shared::weights);
  // The memory to hand the primitive, holding t's values.
  const dnnl::memory& prepare(const Tensor& t);

 private:
  dnnl::memory user_, mem_;
  Context::Shared buffer_;
  std::optional<dnnl::reorder> reorder_;  // none when the layouts agree
};

// Primitive layout -> caller layout, after the primitive runs.
class StagedOut {
 public:
  StagedOut(const dnnl::memory::desc& user, const dnnl::memory::desc& produced,
            Context::Shared buffer = Context::Shared::weights);
  // The memory the primitive writes; then call finish() to land the values in t. With `load`
  // it first holds t's values (a primitive that adds to its output: the sum post-op).
  const dnnl::memory& target(Tensor& t, bool load = false);
  void finish();

 private:
  dnnl::memory user_, mem_;
  Context::Shared buffer_;
  std::optional<dnnl::reorder> reorder_, load_;  // load_ made on first use: few calls need it
};

}  // namespace mt::onednn
