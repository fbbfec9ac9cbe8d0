// The caching allocator over a device that runs out of memory: a failed raw allocation gives the
// cached blocks back and tries once more, so memory held for old shapes never causes the failure.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>
#include <new>

#include "core/allocator.h"

namespace {

// A pretend device of 4 KiB that knows the size of every block it handed out.
constexpr size_t kCapacity = 4096;
std::map<void*, size_t> g_blocks;
size_t g_used = 0;

void* small_device_alloc(size_t bytes) {
  if (g_used + bytes > kCapacity) throw std::bad_alloc();
  void* p = std::malloc(bytes);
  g_blocks[p] = bytes;
  g_used += bytes;
  return p;
}
void small_device_free(void* p) {
  g_used -= g_blocks.at(p);
  g_blocks.erase(p);
  std::free(p);
}

}  // namespace

TEST_CASE("a failed allocation frees the cached blocks and retries once", "[core][allocator]") {
  mt::CachingAllocator allocator(small_device_alloc, small_device_free);
  // Three 1 KiB blocks, used and handed back: the cache holds 3 KiB of the 4 KiB device.
  mt::Block blocks[3];
  for (mt::Block& b : blocks) b = allocator.allocate(1024);
  for (mt::Block& b : blocks) allocator.deallocate(b);
  CHECK(allocator.stats().bytes_cached == 3 * 1024);
  CHECK(g_used == 3 * 1024);

  // 3 KiB is more than any cached block and than the 1 KiB the device has left: only
  // releasing the cache makes room.
  const mt::Block big = allocator.allocate(3 * 1024);
  CHECK(big.ptr != nullptr);
  CHECK(allocator.stats().bytes_cached == 0);
  CHECK(allocator.stats().system_frees == 3);
  CHECK(g_used == 3 * 1024);
  allocator.deallocate(big);
  allocator.release_cached();
  CHECK(g_used == 0);
}

TEST_CASE("an allocation too large for the whole device still fails", "[core][allocator]") {
  mt::CachingAllocator allocator(small_device_alloc, small_device_free);
  allocator.deallocate(allocator.allocate(1024));
  CHECK_THROWS_AS(allocator.allocate(8192), std::bad_alloc);
  CHECK(allocator.stats().bytes_cached == 0);  // released in the attempt
  CHECK(g_used == 0);
}
