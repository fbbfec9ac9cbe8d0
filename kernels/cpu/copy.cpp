// Layout-changing copies. Same order: a parallel memcpy. Otherwise oneDNN's reorder, whose
// nchw <-> nhwc kernels transpose in cache-sized tiles, far faster than an element loop.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/onednn_context.h"

namespace mt {
namespace {

namespace dn = onednn;

struct ReorderEntry : dn::CacheEntry {
  dnnl::memory src, dst;
  dnnl::reorder prim;
  ReorderEntry(const dnnl::memory::desc& s, const dnnl::memory::desc& d)
      : src(dn::unbound(s)), dst(dn::unbound(d)), prim(dnnl::reorder::primitive_desc(src, dst)) {}
};

void parallel_memcpy(void* dst, const void* src, size_t bytes) {
  constexpr size_t kChunk = size_t{1} << 18;
  const int64_t chunks = static_cast<int64_t>((bytes + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t i = 0; i < chunks; ++i) {
    const size_t off = static_cast<size_t>(i) * kChunk;
    std::memcpy(static_cast<char*>(dst) + off, static_cast<const char*>(src) + off,
                std::min(kChunk, bytes - off));
  }
}

}  // namespace

namespace cpu {

void copy_into(const Tensor& src, Tensor& dst) {
  MT_CHECK(src.shape() == dst.shape(), ShapeError, "[copy] shapes ", src.shape().str(), " -> ",
           dst.shape().str(), " differ");
  if (src.shares_memory(dst) && src.strides() == dst.strides()) return;
  if (src.dtype() == dst.dtype() && same_order(src, dst)) {
    parallel_memcpy(dst.raw(), src.raw(), src.nbytes());
    return;
  }
  if (src.dtype() != DType::f32 || dst.dtype() != DType::f32 || src.rank() == 0 ||
      src.rank() > DNNL_MAX_NDIMS) {
    dst.copy_from(src);  // rare: labels, dtype changes
    return;
  }
  auto& ctx = dn::Context::get();
  auto& e = ctx.lookup<ReorderEntry>(dn::Key("copy").add(src).add(dst), [&] {
    return dn::checked("copy", "reorder " + src.shape().str(), [&] {
      return std::make_unique<ReorderEntry>(dn::md_of(src), dn::md_of(dst));
    });
  });
  dn::bind(e.src, src);
  dn::bind(e.dst, dst);
  ctx.execute(e.prim, {{DNNL_ARG_FROM, e.src}, {DNNL_ARG_TO, e.dst}});
}

}  // namespace cpu

void CpuBackend::copy(const Tensor& src, Tensor& dst) { cpu::copy_into(src, dst); }

}  // namespace mt
