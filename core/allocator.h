#pragma once
// Caching allocators: a freed block goes back to a per-device cache and is handed out again for a
// request of about the same size, so a steady-state training step never reaches the system
// allocator (page faults on large mmap'd blocks cost more than the convolutions on these VMs).
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>

#include "core/device.h"

namespace mt {

struct AllocatorStats {
  int64_t system_allocs = 0;   // blocks obtained from the system (or the device driver)
  int64_t system_frees = 0;    // blocks given back to it
  int64_t cache_hits = 0;      // requests served from the cache
  int64_t bytes_in_use = 0;
  int64_t bytes_cached = 0;    // held in the cache, free for reuse
};

// A block as handed out: its size may exceed the request (rounding, best fit), and the exact size
// goes back with it on release.
struct Block {
  void* ptr = nullptr;
  size_t bytes = 0;
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual Block allocate(size_t bytes) = 0;
  virtual void deallocate(Block block) = 0;
  virtual AllocatorStats stats() const = 0;
  virtual void release_cached() = 0;
};

// A best-fit cache over raw alloc/free functions supplied by a device.
class CachingAllocator : public Allocator {
 public:
  using RawAlloc = void* (*)(size_t);
  using RawFree = void (*)(void*);
  CachingAllocator(RawAlloc raw_alloc, RawFree raw_free) : raw_alloc_(raw_alloc), raw_free_(raw_free) {}
  ~CachingAllocator() override;

  Block allocate(size_t bytes) override;
  void deallocate(Block block) override;
  AllocatorStats stats() const override;
  // Frees every cached block (allocate() also does so once before it gives up on a failed
  // raw allocation).
  void release_cached() override;

  // Sizes are rounded so that slightly different requests share blocks.
  static size_t round_size(size_t bytes);

 private:
  void release_cached_locked();

  RawAlloc raw_alloc_;
  RawFree raw_free_;
  mutable std::mutex mutex_;
  std::multimap<size_t, void*> free_blocks_;  // rounded size -> block
  AllocatorStats stats_;
};

// The allocator of a device. CPU is always present; other devices register theirs when their
// backend is built in.
Allocator& allocator_for(Device device);
void register_allocator(DeviceKind kind, Allocator* allocator);

}  // namespace mt
