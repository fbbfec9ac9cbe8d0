// CudaBackend's row-wise ops of structure learning (core/backend.h; kernels/reference/row_ops.h is
// the oracle) on a row-major x viewed as [R, n]. The sums run one block per row in double through
// the block reduction of reduce.cuh (a fixed tree, no atomics: the same bits every run); the
// update is a grid-stride pass whose per-element formula is core/backend.h's row_update_value.
#include <algorithm>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

namespace mt {
namespace {

// Rows stride over the grid: every thread of a block sees the same rows, so all of them reach the
// block_sum barriers together.
__global__ void row_stats_kernel(const float* x, int64_t rows, int64_t cols, float* out) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* row = x + r * cols;
    double sq = 0, sum_abs = 0, sum = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const double v = row[j];
      sq += v * v;
      sum_abs += fabs(v);
      sum += v;
    }
    sq = cuda::block_sum(sq);
    sum_abs = cuda::block_sum(sum_abs);
    sum = cuda::block_sum(sum);
    if (threadIdx.x == 0) {
      out[3 * r] = static_cast<float>(sq);
      out[3 * r + 1] = static_cast<float>(sum_abs);
      out[3 * r + 2] = static_cast<float>(sum);
    }
  }
}

// NB: x and y may be one array (in place), so neither is __restrict__; each element is read and
// written by one thread only.
__global__ void row_update_kernel(const float* x, const float* __restrict__ coef, float* y,
                                  int64_t cols, int64_t n) {
  for (int64_t i : cuda::grid_stride(n)) {
    const float* c = coef + 4 * cuda::quotient(i, cols);
    y[i] = static_cast<float>(row_update_value(c[0], c[1], c[2], c[3], x[i], y[i]));
  }
}

// A block per row: whole warps (block_sum needs them), no more threads than a short row can use
// (a BN scale is one element per row), kThreads for long rows.
int row_threads(int64_t cols) {
  const int64_t warps = (cols + cuda::kWarpSize - 1) / cuda::kWarpSize;
  return static_cast<int>(std::clamp<int64_t>(warps * cuda::kWarpSize, cuda::kWarpSize, cuda::kThreads));
}

}  // namespace

void CudaBackend::row_stats(const Tensor& x, Tensor& out) {
  constexpr const char* op = "row_stats";
  cuda::check_device_tensor(x, op, "x");
  cuda::check_device_tensor(out, op, "out");
  const RowExtent e = row_extent(op, x, out, 3, nullptr);
  if (e.rows == 0) return;
  const auto blocks = static_cast<unsigned>(std::min<int64_t>(e.rows, 65535 * 8));
  row_stats_kernel<<<blocks, row_threads(e.cols), 0, context_->stream()>>>(
      x.data<float>(), e.rows, e.cols, out.data<float>());
  MT_CUDA_CHECK_LAUNCH();
}

void CudaBackend::row_update(const Tensor& x, const Tensor& coef, Tensor& y) {
  constexpr const char* op = "row_update";
  cuda::check_device_tensor(x, op, "x");
  cuda::check_device_tensor(coef, op, "coef");
  cuda::check_device_tensor(y, op, "y");
  const RowExtent e = row_extent(op, x, coef, 4, &y);
  const int64_t n = x.numel();
  if (n == 0) return;  // also every row empty: cols is then 0
  row_update_kernel<<<cuda::blocks_for(n), cuda::kThreads, 0, context_->stream()>>>(
      x.data<float>(), coef.data<float>(), y.data<float>(), e.cols, n);
  MT_CUDA_CHECK_LAUNCH();
}

}  // namespace mt
