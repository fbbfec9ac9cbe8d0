// Bias, bias gradient and batch-norm folding for the cuDNN convolutions and cuBLAS linear layers.
#include <algorithm>

#include "kernels/cuda/conv_kernels.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

namespace mt::cuda {
namespace {

constexpr int kSumThreads = 256;   // threads of one per-channel plane sum
constexpr int kColumns = 32;       // channels per block of a column sum: one warp reads a row
constexpr int kRowLanes = 8;       // rows a column-sum block reads at once
constexpr int64_t kChunkRows = 512;   // rows (or planes' elements / kSumThreads) per chunk
constexpr int64_t kMaxChunks = 256;   // partial sums per channel, summed by a second pass

__global__ void add_channel_bias_kernel(float* y, const float* b, int64_t n, int64_t c, int64_t hw,
                                        bool channels_last, bool relu) {
  for (int64_t i : grid_stride(n)) {
    const float v = y[i] + b[channel_of(i, c, hw, channels_last)];
    y[i] = relu && !(v > 0) ? 0.0f : v;
  }
}

// partial[chunk, ch] = sum of src[a, ch, j] over the chunk's outer indices a and every j, for
// src [outer, C, inner] with inner > 1: the threads of a block walk one plane contiguously.
__global__ void plane_partial_sums_kernel(const float* src, int64_t outer, int64_t c, int64_t inner,
                                          int64_t outer_per_chunk, double* partial) {
  const int64_t ch = blockIdx.x, chunk = blockIdx.y;
  const int64_t first = chunk * outer_per_chunk;
  const int64_t last = first + outer_per_chunk < outer ? first + outer_per_chunk : outer;
  const int64_t count = last > first ? (last - first) * inner : 0;
  double sum = 0;
  for (int64_t k = threadIdx.x; k < count; k += kSumThreads) {
    const int64_t a = first + k / inner, j = k % inner;
    sum += src[(a * c + ch) * inner + j];
  }
  sum = block_sum(sum);  // reduce.cuh's: every thread of the block reaches it
  if (threadIdx.x == 0) partial[chunk * c + ch] = sum;
}

// dst[chunk, col] = sum of src[r, col] over the chunk's rows, for a row-major [rows, C] src: a
// warp reads kColumns neighbouring channels of one row, so the reads coalesce.
template <typename In, typename Out>
__global__ void column_sums_kernel(const In* src, int64_t rows, int64_t c, int64_t rows_per_chunk,
                                   Out* dst) {
  __shared__ double shared[kRowLanes][kColumns];
  const int64_t col = blockIdx.x * int64_t{kColumns} + threadIdx.x;
  const int64_t first = blockIdx.y * rows_per_chunk;
  const int64_t last = first + rows_per_chunk < rows ? first + rows_per_chunk : rows;
  double sum = 0;
  if (col < c)
    for (int64_t r = first + threadIdx.y; r < last; r += kRowLanes) sum += src[r * c + col];
  shared[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < c) {
    double total = 0;
    for (int k = 0; k < kRowLanes; ++k) total += shared[k][threadIdx.x];
    dst[blockIdx.y * c + col] = static_cast<Out>(total);
  }
}

template <typename In, typename Out>
void launch_column_sums(cudaStream_t stream, const In* src, int64_t rows, int64_t c,
                        int64_t chunks, Out* dst) {
  const int64_t rows_per_chunk = (rows + chunks - 1) / chunks;
  const dim3 grid(static_cast<unsigned>((c + kColumns - 1) / kColumns), static_cast<unsigned>(chunks));
  column_sums_kernel<In, Out><<<grid, dim3(kColumns, kRowLanes), 0, stream>>>(src, rows, c,
                                                                               rows_per_chunk, dst);
  MT_CUDA_CHECK_LAUNCH();
}

// The scale s = gamma / sqrt(var + eps) of filter o, in double as the CPU backend computes it.
__device__ double bn_scale(const BatchNormFold& bn, int64_t o) {
  const double gamma = bn.gamma ? bn.gamma[o] : 1.0;
  return gamma / sqrt(static_cast<double>(bn.var[o]) + bn.eps);
}

__global__ void fold_batchnorm_kernel(BatchNormFold bn, const float* w, float* w_out,
                                      int64_t out_channels, int64_t per_filter, float* b_out) {
  const int64_t weights = out_channels * per_filter;
  const int64_t n = weights > out_channels ? weights : out_channels;
  for (int64_t i : grid_stride(n)) {
    if (i < weights) w_out[i] = static_cast<float>(w[i] * bn_scale(bn, i / per_filter));
    if (i < out_channels) {
      const double bias = bn.b ? bn.b[i] : 0.0, shift = bn.beta ? bn.beta[i] : 0.0;
      b_out[i] = static_cast<float>((bias - bn.mean[i]) * bn_scale(bn, i) + shift);
    }
  }
}

}  // namespace

void add_channel_bias(cudaStream_t stream, float* y, const float* b, int64_t n, int64_t c,
                      int64_t hw, bool channels_last, bool relu) {
  if (n == 0) return;
  add_channel_bias_kernel<<<blocks_for(n), kThreads, 0, stream>>>(y, b, n, c, hw, channels_last,
                                                                  relu);
  MT_CUDA_CHECK_LAUNCH();
}

void channel_sums(cudaStream_t stream, const float* src, int64_t outer, int64_t c, int64_t inner,
                  float* dst, Device device) {
  if (c == 0) return;
  if (outer == 0 || inner == 0) {
    MT_CUDA_CHECK(cudaMemsetAsync(dst, 0, static_cast<size_t>(c) * sizeof(float), stream));
    return;
  }
  if (inner == 1) {
    const int64_t chunks = std::clamp<int64_t>(outer / kChunkRows, 1, kMaxChunks);
    if (chunks == 1) {
      launch_column_sums<float, float>(stream, src, outer, c, 1, dst);
      return;
    }
    // Chunks of rows in parallel, then one pass over the [chunks, C] partial sums.
    const Tensor partial = Tensor::empty({chunks, c}, DType::f64, Layout::nchw, device);
    launch_column_sums<float, double>(stream, src, outer, c, chunks, partial.data<double>());
    launch_column_sums<double, float>(stream, partial.data<double>(), chunks, c, 1, dst);
    return;
  }
  const int64_t wanted = std::clamp<int64_t>(outer * inner / (kChunkRows * kSumThreads), 1,
                                             std::min(outer, kMaxChunks));
  const int64_t outer_per_chunk = (outer + wanted - 1) / wanted;
  const int64_t chunks = (outer + outer_per_chunk - 1) / outer_per_chunk;  // none of them empty
  const Tensor partial = Tensor::empty({chunks, c}, DType::f64, Layout::nchw, device);
  const dim3 grid(static_cast<unsigned>(c), static_cast<unsigned>(chunks));
  plane_partial_sums_kernel<<<grid, kSumThreads, 0, stream>>>(src, outer, c, inner,
                                                              outer_per_chunk, partial.data<double>());
  MT_CUDA_CHECK_LAUNCH();
  launch_column_sums<double, float>(stream, partial.data<double>(), chunks, c, 1, dst);
}

void fold_batchnorm(cudaStream_t stream, const BatchNormFold& bn, const float* w, float* w_out,
                    int64_t out_channels, int64_t per_filter, float* b_out) {
  const int64_t n = std::max(out_channels * per_filter, out_channels);
  if (n == 0) return;
  fold_batchnorm_kernel<<<blocks_for(n), kThreads, 0, stream>>>(bn, w, w_out, out_channels,
                                                                per_filter, b_out);
  MT_CUDA_CHECK_LAUNCH();
}

}  // namespace mt::cuda
