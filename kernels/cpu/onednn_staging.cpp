#include "kernels/cpu/onednn_staging.h"

namespace mt::onednn {

namespace {
// The memory the primitive sees: the caller's own where the layouts agree, else one of its own.
dnnl::memory primitive_side(const dnnl::memory& user, const dnnl::memory::desc& primitive) {
  return primitive == user.get_desc() ? user : unbound(primitive);
}
}  // namespace

StagedIn::StagedIn(const dnnl::memory::desc& user, const dnnl::memory::desc& wanted,
                   Context::Shared buffer)
    : user_(unbound(user)), mem_(primitive_side(user_, wanted)), buffer_(buffer) {
  if (mem_ != user_) reorder_.emplace(dnnl::reorder::primitive_desc(user_, mem_));
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
    : user_(unbound(user)), mem_(primitive_side(user_, produced)), buffer_(buffer) {
  if (mem_ != user_) reorder_.emplace(dnnl::reorder::primitive_desc(mem_, user_));
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
