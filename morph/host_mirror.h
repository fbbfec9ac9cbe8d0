#pragma once
// The morph code computes on the host. A HostMirror is a host copy of a tensor that may live on a
// GPU (a host tensor is used in place, no copy), and commit() writes the host values back: the
// regularizers read their params and add to gradients this way whatever the training device.
#include "core/tensor.h"

namespace mt::morph {

class HostMirror {
 public:
  explicit HostMirror(const Tensor& t) : target_(t), host_(t) {
    if (t.device().kind != DeviceKind::cpu) {
      host_ = Tensor::empty(t.shape(), t.dtype(), t.layout());
      host_.copy_from(t);
    }
  }
  const Tensor& host() const { return host_; }
  // Copies the host values into the device tensor (nothing to do for a host tensor).
  void commit() {
    if (!host_.shares_memory(target_)) target_.copy_from(host_);
  }

 private:
  Tensor target_;  // shares the mirrored tensor's memory
  Tensor host_;
};

}  // namespace mt::morph
