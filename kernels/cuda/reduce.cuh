#pragma once
// Warp and block reductions for the CUDA kernels (included by .cu files only), the loop of one
// warp per item, and the grid size of a two-stage reduction. Any T that __shfl_xor_sync moves (float, double, int, int64_t) and any
// associative op work; results are deterministic for a fixed launch shape (a fixed tree, no
// atomics), so a sum over the same tensor gives the same bits every run.
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"

namespace mt::cuda {

inline constexpr int kWarpSize = 32;
inline constexpr unsigned kFullWarp = 0xffffffffu;

struct SumOp {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a + b; }
};

// NB: NaN handling is the comparison's: a NaN loses to any number. Callers whose result must turn
// NaN when an input is NaN get that from a later step (a sum of exp(x - max), say).
struct MaxOp {
  template <typename T>
  __device__ T operator()(T a, T b) const { return b > a ? b : a; }
};

// Every lane gets op over the warp's 32 values. All 32 lanes must be present and call it.
template <typename T, typename Op>
__device__ inline T warp_reduce(T v, Op op) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    v = op(v, __shfl_xor_sync(kFullWarp, v, offset));
  return v;
}

template <typename T>
__device__ inline T warp_sum(T v) {
  return warp_reduce(v, SumOp{});
}

// for (int64_t o : warp_stride(n)): one warp per item o below n, the grid's warps striding over
// them (1-D blocks of whole warps). All 32 lanes of a warp see the same o, so they reach the
// shuffles of warp_reduce together.
__device__ inline GridStrideRange warp_stride(int64_t n) {
  return {(blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / kWarpSize, n,
          int64_t{gridDim.x} * blockDim.x / kWarpSize};
}

// Every thread of the block gets op over the block's values; `identity` pads the missing warps.
// The block (any of 1-3 dims) must hold a multiple of 32 threads, at most 1024, and every thread
// must call it (it synchronises). Safe to call several times in a row: it syncs before returning,
// so the next call cannot overwrite the shared slots while a thread still reads them.
template <typename T, typename Op>
__device__ inline T block_reduce(T v, Op op, T identity) {
  __shared__ T warp_results[kWarpSize];
  const int tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int warps = (blockDim.x * blockDim.y * blockDim.z) / kWarpSize;
  const int lane = tid % kWarpSize, warp = tid / kWarpSize;
  v = warp_reduce(v, op);
  if (lane == 0) warp_results[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T w = lane < warps ? warp_results[lane] : identity;
    w = warp_reduce(w, op);
    if (lane == 0) warp_results[0] = w;
  }
  __syncthreads();
  const T result = warp_results[0];
  __syncthreads();
  return result;
}

template <typename T>
__device__ inline T block_sum(T v) {
  return block_reduce(v, SumOp{}, T(0));
}

// Blocks for the first stage of a two-stage reduction (partials per block, then a small kernel
// over them): enough to keep every SM busy (8 blocks of 256 threads fill an SM's 2048 threads),
// few enough that the second stage is short. The count is cached per process: a process drives
// one GPU (the allocator makes the same assumption).
inline int reduction_blocks_limit() {
  static const int limit = [] {
    int device = 0, sms = 0;
    MT_CUDA_CHECK(cudaGetDevice(&device));
    MT_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    return 8 * (sms > 0 ? sms : 1);
  }();
  return limit;
}

}  // namespace mt::cuda
