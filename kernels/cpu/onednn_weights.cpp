#include "kernels/cpu/onednn_weights.h"

namespace mt::onednn {

WeightsIn::WeightsIn(const dnnl::memory::desc& user, const dnnl::memory::desc& wanted)
    : user_(unbound(user)) {
  if (wanted == user) {
    mem_ = user_;
    return;
  }
  mem_ = unbound(wanted);
  reorder_.emplace(dnnl::reorder::primitive_desc(user_, mem_));
}

const dnnl::memory& WeightsIn::prepare(const Tensor& w) {
  user_.set_data_handle(w.raw());
  if (!reorder_) return mem_;
  Context::get().bind_weights(mem_);
  Context::get().execute(*reorder_, {{DNNL_ARG_FROM, user_}, {DNNL_ARG_TO, mem_}});
  return mem_;
}

WeightsOut::WeightsOut(const dnnl::memory::desc& user, const dnnl::memory::desc& produced)
    : user_(unbound(user)) {
  if (produced == user) {
    mem_ = user_;
    return;
  }
  mem_ = unbound(produced);
  reorder_.emplace(dnnl::reorder::primitive_desc(mem_, user_));
}

const dnnl::memory& WeightsOut::target(Tensor& w) {
  user_.set_data_handle(w.raw());
  if (reorder_) Context::get().bind_weights(mem_);
  return mem_;
}

void WeightsOut::finish() {
  if (reorder_) Context::get().execute(*reorder_, {{DNNL_ARG_FROM, mem_}, {DNNL_ARG_TO, user_}});
}

}  // namespace mt::onednn
