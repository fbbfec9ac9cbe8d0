#include "kernels/cpu/onednn_staging.h"

namespace mt::onednn {

StagedIn::StagedIn(const dnnl::memory::desc& user, const dnnl::memory::desc& wanted,
                   Context::Shared buffer)
    : user_(unbound(user)), buffer_(buffer) {
  if (wanted == user) {
    mem_ = user_;
    return;
  }
  mem_ = unbound(wanted);
  reorder_.emplace(dnnl::reorder::primitive_desc(user_, mem_));
}

const dnnl::memory& StagedIn::prepare(const Tensor& t) {
  user_.set_data_handle(t.raw());
  if (!reorder_) return mem_;
  Context::get().bind_shared(buffer_, mem_);
  Context::get().execute(*reorder_, {{DNNL_ARG_FROM, user_}, {DNNL_ARG_TO, mem_}});
  return mem_;
}

StagedOut::StagedOut(const dnnl::memory::desc& user, const dnnl::memory::desc& produced,
                     Context::Shared buffer)
    : user_(unbound(user)), buffer_(buffer) {
  if (produced == user) {
    mem_ = user_;
    return;
  }
  mem_ = unbound(produced);
  reorder_.emplace(dnnl::reorder::primitive_desc(mem_, user_));
}

const dnnl::memory& StagedOut::target(Tensor& t, bool load) {
  user_.set_data_handle(t.raw());
  if (!reorder_) return mem_;
  Context::get().bind_shared(buffer_, mem_);
  if (load) {
    if (!load_) load_.emplace(dnnl::reorder::primitive_desc(user_, mem_));
    Context::get().execute(*load_, {{DNNL_ARG_FROM, user_}, {DNNL_ARG_TO, mem_}});
  }
  return mem_;
}

void StagedOut::finish() {
  if (reorder_) Context::get().execute(*reorder_, {{DNNL_ARG_FROM, mem_}, {DNNL_ARG_TO, user_}});
}

}  // namespace mt::onednn
