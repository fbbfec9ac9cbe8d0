#pragma once
// Small helpers shared by the CPU kernels: dtype checks, layout comparisons, and OpenMP loops
// over flat float arrays.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "core/tensor.h"

namespace mt::cpu {

// The CPU backend computes in f32 only (oneDNN has no f64 on CPU).
inline void check_f32(std::string_view op, const Tensor& t) {
  MT_CHECK(t.dtype() == DType::f32, BackendError, "[", op,
           "] the cpu backend supports f32 only, got ", dtype_name(t.dtype()),
           " for a tensor of shape ", t.shape().str(), "; use the reference backend for f64");
}

// check_f32 for each defined tensor of the list.
inline void check_f32(std::string_view op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t->defined()) check_f32(op, *t);
}

inline void check_shape(std::string_view op, const Tensor& a, const Tensor& b) {
  MT_CHECK(a.shape() == b.shape(), ShapeError, "[", op, "] shapes ", a.shape().str(), " and ",
           b.shape().str(), " differ");
}

// Same shape and the same physical order (strides of size-1 dims do not matter), so the two can
// be walked as flat arrays.
inline bool same_order(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  for (int i = 0; i < a.rank(); ++i)
    if (a.dim(i) > 1 && a.stride(i) != b.stride(i)) return false;
  return true;
}

// dst = src for one logical shape in any two layouts: a parallel memcpy when they lie alike, a
// cached oneDNN reorder (fast nchw <-> nhwc) otherwise. Defined in copy.cpp.
void copy_into(const Tensor& src, Tensor& dst);

// `t` itself when it already lies in `layout`, else a copy in that layout (from the caching
// allocator, so a steady state reuses the block).
Tensor in_layout(const Tensor& t, Layout layout);
// For an output: `t` itself when it lies in `layout`, else an uninitialised tensor of t's shape in
// that layout, to be copied into t afterwards.
Tensor output_in_layout(const Tensor& t, Layout layout);
// The same as in_layout for `like`'s layout (like may have another shape).
inline Tensor in_order_of(const Tensor& t, const Tensor& like) {
  return in_layout(t, like.layout());
}

// Hot loops are compiled for several ISAs and the loader picks one for the CPU it runs on
// (GCC/Clang function multiversioning): nothing is hard-coded, and AVX-512 machines get AVX-512
// code while the rest of the build stays portable. Put it on non-template functions that take a
// range.
#define MT_CPU_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))

// Elements per OpenMP chunk below which a loop stays single-threaded (thread wake-up costs more).
constexpr int64_t kSerialBelow = 1 << 15;

// body(i) for i in [0, n), threaded when the work (n items of `item_cost` elements) is enough.
template <typename F>
void parallel_for(int64_t n, F&& body, int64_t item_cost = 1) {
#pragma omp parallel for schedule(static) if (n > 1 && n * item_cost >= kSerialBelow)
  for (int64_t i = 0; i < n; ++i) body(i);
}

// Splits [0, n) into one contiguous range per thread and runs body(begin, end) on each, so the
// inner loop of `body` can vectorise. Items cost `item_cost` elements of work each (the serial
// threshold counts elements).
template <typename F>
void parallel_ranges(int64_t n, F&& body, int64_t item_cost = 1) {
  if (n <= 0) return;
  if (n * item_cost < kSerialBelow || n == 1) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t chunk = (n + nt - 1) / nt;
    const int64_t begin = std::min(n, t * chunk), end = std::min(n, begin + chunk);
    if (begin < end) body(begin, end);
  }
}

}  // namespace mt::cpu
