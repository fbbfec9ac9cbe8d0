#include "core/allocator.h"

#include <cstdlib>
#include <exception>
#include <new>

#include "core/error.h"

namespace mt {

namespace {
constexpr size_t kAlignment = 64;  // a cache line; oneDNN and AVX-512 like it

void* cpu_raw_alloc(size_t bytes) {
  void* p = std::aligned_alloc(kAlignment, bytes);
  if (!p) throw std::bad_alloc();
  return p;
}
void cpu_raw_free(void* p) { std::free(p); }

Allocator* g_allocators[2] = {nullptr, nullptr};
}  // namespace

CachingAllocator::~CachingAllocator() { release_cached(); }

size_t CachingAllocator::round_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes <= (1u << 20)) return (bytes + 511) / 512 * 512;
  return (bytes + (1u << 20) - 1) / (1u << 20) * (1u << 20);  // 1 MiB granules above 1 MiB
}

Block CachingAllocator::allocate(size_t bytes) {
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  // Best fit, but never hand out a block more than twice the request: that would waste memory.
  auto it = free_blocks_.lower_bound(size);
  if (it != free_blocks_.end() && it->first <= 2 * size) {
    Block block{it->second, it->first};
    stats_.bytes_cached -= static_cast<int64_t>(block.bytes);
    stats_.bytes_in_use += static_cast<int64_t>(block.bytes);
    free_blocks_.erase(it);
    ++stats_.cache_hits;
    return block;
  }
  void* p = nullptr;
  try {
    p = raw_alloc_(size);
  } catch (const std::exception&) {
    // Blocks cached for other sizes (an earlier batch or model shape) may be what the device
    // lacks: give them back and try once more before failing.
    if (free_blocks_.empty()) throw;
    release_cached_locked();
    p = raw_alloc_(size);
  }
  ++stats_.system_allocs;
  stats_.bytes_in_use += static_cast<int64_t>(size);
  return {p, size};
}

void CachingAllocator::deallocate(Block block) {
  if (!block.ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  free_blocks_.emplace(block.bytes, block.ptr);
  stats_.bytes_in_use -= static_cast<int64_t>(block.bytes);
  stats_.bytes_cached += static_cast<int64_t>(block.bytes);
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached_locked();
}

void CachingAllocator::release_cached_locked() {
  for (auto& [size, p] : free_blocks_) {
    raw_free_(p);
    ++stats_.system_frees;
  }
  free_blocks_.clear();
  stats_.bytes_cached = 0;
}

Allocator& allocator_for(Device device) {
  if (device.kind == DeviceKind::cpu && !g_allocators[0]) {
    static CachingAllocator cpu_allocator(cpu_raw_alloc, cpu_raw_free);
    g_allocators[0] = &cpu_allocator;
  }
  Allocator* a = g_allocators[static_cast<int>(device.kind)];
  MT_CHECK(a, BackendError, "no allocator for device ", device.str(),
           ": this build has no backend for it (reconfigure with -DMORPHTRAIN_CUDA=ON)");
  return *a;
}

void register_allocator(DeviceKind kind, Allocator* allocator) {
  g_allocators[static_cast<int>(kind)] = allocator;
}

}  // namespace mt
