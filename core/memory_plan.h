#pragma once
// Packing a step's buffers by lifetime (ggml's graph allocator and PyTorch's caching allocator
// are the references): every buffer is alive over an interval of step times, and two buffers
// alive at the same time never share a byte; otherwise they may. Greedy: largest first, each at
// the lowest offset that clears every placed buffer whose interval meets its own.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mt {

inline constexpr int64_t kBufferAlignment = 64;  // bytes: a cache line, and AVX-512's vector

struct BufferLife {
  int64_t bytes = 0;
  int first = 0, last = 0;  // alive over the closed interval [first, last]
};

struct PackedBuffers {
  std::vector<int64_t> offsets;  // per buffer, multiples of kBufferAlignment
  int64_t arena_bytes = 0;       // what they need together
  int64_t unpacked_bytes = 0;    // what they would need each in a buffer of its own
};

PackedBuffers pack_buffers(const std::vector<BufferLife>& buffers);

// Whether buffers i and j of a packing are alive at a common time and share a byte: never true
// of pack_buffers' result (a test checks every pair).
bool buffers_collide(const std::vector<BufferLife>& buffers, const PackedBuffers& packed, size_t i, size_t j);

}  // namespace mt
