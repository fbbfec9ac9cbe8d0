#pragma once
// Device-side helpers for the CUDA kernels (included by .cu files only).
#include <cstdint>

#include "kernels/cuda/cuda_util.h"

namespace mt::cuda {

// for (int64_t i : grid_stride(n)): each thread visits i = tid, tid + stride, ... below n, so one
// launch configuration (blocks_for) covers any n.
struct GridStrideIter {
  int64_t i, step;
  __device__ int64_t operator*() const { return i; }
  __device__ GridStrideIter& operator++() {
    i += step;
    return *this;
  }
  __device__ bool operator!=(const GridStrideIter& end) const { return i < end.i; }
};
struct GridStrideRange {
  int64_t first, n, step;
  __device__ GridStrideIter begin() const { return {first, step}; }
  __device__ GridStrideIter end() const { return {n, step}; }
};
__device__ inline GridStrideRange grid_stride(int64_t n) {
  return {blockIdx.x * int64_t{blockDim.x} + threadIdx.x, n, int64_t{gridDim.x} * blockDim.x};
}

// The channel of physical element i of a [N, C, H, W] tensor (or [N, C]) laid out as `nhwc`
// (channel innermost) or row-major; hw is H * W (1 for [N, C]).
__device__ inline int64_t channel_of(int64_t i, int64_t c, int64_t hw, bool nhwc) {
  return nhwc ? i % c : (i / hw) % c;
}

// a / b. 64-bit integer division is a long software routine on the GPU; most tensors index in 32
// bits, so when a and b are both in [0, 2^32) it divides in 32 bits, a few instructions.
__device__ inline int64_t quotient(int64_t a, int64_t b) {
  if (((a | b) >> 32) == 0) return static_cast<uint32_t>(a) / static_cast<uint32_t>(b);
  return a / b;
}

// A logical index (or the extents) of a [N, C, H, W] tensor.
struct Index4 {
  int64_t n, c, h, w;
};

// The strides of a [N, C, H, W] tensor, through which kernels reach any layout.
struct Strides4 {
  int64_t n, c, h, w;
  __device__ int64_t at(int64_t in, int64_t ic, int64_t ih, int64_t iw) const {
    return in * n + ic * c + ih * h + iw * w;
  }
};

inline Index4 dims_of(const Tensor& t) { return {t.dim(0), t.dim(1), t.dim(2), t.dim(3)}; }
inline Strides4 strides_of(const Tensor& t) {
  return {t.stride(0), t.stride(1), t.stride(2), t.stride(3)};
}

// The logical index of physical offset i of a dense [N, C, H, W] tensor laid out as `nhwc` or
// row-major (nchw).
__device__ inline Index4 unravel(int64_t i, int64_t C, int64_t H, int64_t W, bool nhwc) {
  Index4 r;
  if (nhwc) {
    r.c = i % C, i /= C;
    r.w = i % W, i /= W;
    r.h = i % H, r.n = i / H;
  } else {
    r.w = i % W, i /= W;
    r.h = i % H, i /= H;
    r.c = i % C, r.n = i / C;
  }
  return r;
}
__device__ inline Index4 unravel(int64_t i, const Index4& dims, bool nhwc) {
  return unravel(i, dims.c, dims.h, dims.w, nhwc);
}

}  // namespace mt::cuda
