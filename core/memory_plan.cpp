#include "core/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace mt {

namespace {
int64_t aligned(int64_t bytes) { return (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment; }
bool meet(const BufferLife& a, const BufferLife& b) { return a.first <= b.last && b.first <= a.last; }
}  // namespace

PackedBuffers pack_buffers(const std::vector<BufferLife>& buffers) {
  PackedBuffers out;
  out.offsets.assign(buffers.size(), -1);
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (buffers[a].bytes != buffers[b].bytes) return buffers[a].bytes > buffers[b].bytes;
    return buffers[a].first < buffers[b].first;
  });
  std::vector<size_t> placed;
  std::vector<std::pair<int64_t, int64_t>> taken;  // [begin, end) of placed buffers alive with this one
  for (size_t b : order) {
    const int64_t size = aligned(buffers[b].bytes);
    out.unpacked_bytes += size;
    taken.clear();
    for (size_t p : placed)
      if (meet(buffers[p], buffers[b])) taken.emplace_back(out.offsets[p], out.offsets[p] + aligned(buffers[p].bytes));
    std::sort(taken.begin(), taken.end());
    int64_t offset = 0;
    for (const auto& [begin, end] : taken) {
      if (begin >= offset + size) break;  // the gap before this one fits
      offset = std::max(offset, end);
    }
    out.offsets[b] = offset;
    out.arena_bytes = std::max(out.arena_bytes, offset + size);
    placed.push_back(b);
  }
  return out;
}

bool buffers_collide(const std::vector<BufferLife>& buffers, const PackedBuffers& packed, size_t i, size_t j) {
  if (i == j || !meet(buffers[i], buffers[j]) || buffers[i].bytes == 0 || buffers[j].bytes == 0) return false;
  const int64_t a0 = packed.offsets[i], a1 = a0 + buffers[i].bytes;
  const int64_t b0 = packed.offsets[j], b1 = b0 + buffers[j].bytes;
  return a0 < b1 && b0 < a1;
}

}  // namespace mt
