#include "kernels/cpu/onednn_context.h"

#include <algorithm>
#include <cstdlib>

namespace mt::onednn {

Key& Key::add(int64_t v) {
  s_ += std::to_string(v);
  s_ += ',';
  return *this;
}

Key& Key::add_real(double v) {
  s_.append(reinterpret_cast<const char*>(&v), sizeof v);
  s_ += ',';
  return *this;
}

Key& Key::add(const Tensor& t) {
  if (!t.defined()) {
    s_ += "none;";
    return *this;
  }
  add(static_cast<int64_t>(t.dtype())).add(t.rank());
  for (int i = 0; i < t.rank(); ++i) add(t.dim(i)).add(t.stride(i));
  s_ += ';';
  return *this;
}

Context::Context() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
  attr_.set_scratchpad_mode(dnnl::scratchpad_mode::user);
}

Context& Context::get() {
  thread_local Context ctx;
  return ctx;
}

CacheEntry* Context::find(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  entries_.splice(entries_.begin(), entries_, it->second);  // now most recent
  return entries_.front().second.get();
}

CacheEntry& Context::insert(const std::string& key, std::unique_ptr<CacheEntry> entry) {
  // Models that reshape leave stale shapes behind: drop the least recently used.
  evict_to(capacity_ - 1);
  entries_.emplace_front(key, std::move(entry));
  index_[key] = entries_.begin();
  return *entries_.front().second;
}

void Context::evict_to(size_t entries) {
  while (entries_.size() > entries) {
    index_.erase(entries_.back().first);
    entries_.pop_back();
  }
}

void Context::set_capacity(size_t entries) {
  // Two at least: one call may hold an entry while it looks up a second (a reorder).
  capacity_ = std::max<size_t>(entries, 2);
  evict_to(capacity_);
}

Context::SystemBuffer::~SystemBuffer() { std::free(ptr); }

void Context::bind_shared(Shared which, dnnl::memory& mem) {
  const size_t bytes = mem.get_desc().get_size();
  if (bytes == 0) return;
  SystemBuffer& buffer = shared_[static_cast<int>(which)];
  if (buffer.bytes < bytes) {
    constexpr size_t kAlign = 64;  // a cache line: what oneDNN's own buffers get
    const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    std::free(buffer.ptr);  // first, so the old block can serve the new one's pages
    buffer.ptr = std::aligned_alloc(kAlign, rounded);
    buffer.bytes = buffer.ptr ? rounded : 0;
    MT_CHECK(buffer.ptr, BackendError, "[onednn] out of memory for a ", rounded,
             "-byte scratch buffer");
  }
  mem.set_data_handle(buffer.ptr);
}

void Context::execute(const dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args) {
  p.execute(stream_, args);
  stream_.wait();
}

dnnl::memory::dims dims_of(const Tensor& t) { return t.shape().dims(); }

dnnl::memory::desc md_of(const Tensor& t) {
  return dnnl::memory::desc(dims_of(t), dnnl::memory::data_type::f32, t.strides());
}

dnnl::memory::desc md_as(const Tensor& t, Layout layout) {
  return dnnl::memory::desc(dims_of(t), dnnl::memory::data_type::f32,
                            strides_for(t.shape(), layout));
}

dnnl::memory::desc plain_md(const dnnl::memory::dims& dims) {
  dnnl::memory::dims strides(dims.size());
  int64_t acc = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = acc;
    acc *= dims[i];
  }
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, strides);
}

dnnl::memory unbound(const dnnl::memory::desc& md) {
  return dnnl::memory(md, Context::get().engine(), DNNL_MEMORY_NONE);
}

}  // namespace mt::onednn
