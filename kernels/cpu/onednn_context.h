#pragma once
// The oneDNN state of the CPU backend: one engine and stream, a bounded LRU cache of primitives
// keyed by (op, descriptor, shapes, strides, dtype), and one grow-only scratchpad that every
// primitive borrows (scratchpad_mode::user), so a steady-state step allocates nothing.
//
// The context is per thread: primitives from one thread share a scratchpad, which would race if
// two threads ran at once.
#include <cstdint>
#include <list>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/tensor.h"

namespace mt::onednn {

// Base of everything the cache holds; each op defines its own entry (primitive descriptors,
// primitives, memory objects whose handles are set per call, private buffers).
struct CacheEntry {
  virtual ~CacheEntry() = default;
};

// Builds a cache key. The op name comes first, so one key never maps to two entry types.
class Key {
 public:
  explicit Key(std::string_view op) : s_(op) { s_ += '|'; }
  Key& add(int64_t v);
  Key& add_real(double v);    // exact bits, so 1e-5 and 1.0000001e-5 differ
  Key& add(const Tensor& t);  // rank, dims, strides and dtype; "undefined" is a key of its own
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

class Context {
 public:
  static Context& get();

  const dnnl::engine& engine() const { return engine_; }
  const dnnl::stream& stream() const { return stream_; }
  // Every primitive descriptor is built with this attribute (user-managed scratchpad).
  const dnnl::primitive_attr& attr() const { return attr_; }

  // The entry under `key`, made by `make()` (returning std::unique_ptr<E>) on a miss.
  template <typename E, typename Make>
  E& lookup(const Key& key, Make&& make) {
    if (CacheEntry* hit = find(key.str())) return static_cast<E&>(*hit);
    return static_cast<E&>(insert(key.str(), make()));
  }

  // Buffers every primitive borrows for the length of one call, each grown to the largest
  // request. weights: weights in a primitive's own layout (StagedIn, StagedOut), reordered on
  // every call anyway (training changes them), so one buffer serves every layer instead of a copy
  // of the model's weights per primitive. first/second_activation: activations staged into a
  // blocked layout around a primitive that only runs in one (Winograd convolution); a call stages
  // at most two at once.
  enum class Shared { scratchpad, weights, first_activation, second_activation };
  // Points mem at the shared buffer `which`, grown to mem's descriptor's size if needed.
  void bind_shared(Shared which, dnnl::memory& mem);
  void bind_scratchpad(dnnl::memory& mem) { bind_shared(Shared::scratchpad, mem); }
  void execute(const dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args);

  size_t cache_size() const { return entries_.size(); }
  size_t capacity() const { return capacity_; }
  // Evicts down to the new bound at once.
  void set_capacity(size_t entries);
  static constexpr size_t kDefaultCapacity = 512;

 private:
  Context();
  CacheEntry* find(const std::string& key);
  CacheEntry& insert(const std::string& key, std::unique_ptr<CacheEntry> entry);
  void evict_to(size_t entries);

  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::primitive_attr attr_;
  using Lru = std::list<std::pair<std::string, std::unique_ptr<CacheEntry>>>;
  Lru entries_;  // most recently used first
  std::unordered_map<std::string, Lru::iterator> index_;
  size_t capacity_ = kDefaultCapacity;
  // Grow-only, straight from the system rather than the caching allocator: a block outgrown
  // during the first step would otherwise stay in the cache for good (130 MB of ResNet-50's peak
  // once Winograd's scratchpads arrived), and growth happens only in the first step anyway.
  struct SystemBuffer {
    void* ptr = nullptr;
    size_t bytes = 0;
    SystemBuffer() = default;
    SystemBuffer(const SystemBuffer&) = delete;
    SystemBuffer& operator=(const SystemBuffer&) = delete;
    ~SystemBuffer();
  };
  SystemBuffer shared_[4];  // by Shared
};

// ---- memory descriptors and objects
dnnl::memory::dims dims_of(const Tensor& t);
// Logical dims with the tensor's own strides: nchw and nhwc (and any view) alike.
dnnl::memory::desc md_of(const Tensor& t);
// The same memory described with `layout`'s strides; t must lie alike (cpu::in_layout), which
// size-1 dims allow across layouts (an [N, 1, H, W] nchw tensor is also nhwc).
dnnl::memory::desc md_as(const Tensor& t, Layout layout);
dnnl::memory::desc plain_md(const dnnl::memory::dims& dims);  // row-major f32
// A memory object without a handle yet; set it with bind() per call.
dnnl::memory unbound(const dnnl::memory::desc& md);
inline void bind(dnnl::memory& m, const Tensor& t) { m.set_data_handle(t.raw()); }

// Runs `make` (which builds primitive descriptors) and turns a oneDNN failure into a BackendError
// that names the op and the library's status.
template <typename F>
auto checked(std::string_view op, std::string_view what, F&& make) -> decltype(make()) {
  try {
    return make();
  } catch (const dnnl::error& e) {
    MT_FAIL(BackendError, "[", op, "] oneDNN could not create ", what, ": ", e.what(), " (status ",
            static_cast<int>(e.status), ")");
  }
}

}  // namespace mt::onednn
