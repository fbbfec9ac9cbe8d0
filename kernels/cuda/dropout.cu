// Inverted dropout with the mask every backend shares: the element at row-major logical position
// i is kept iff dropout_uniform(seed, i) >= p (core/backend.h, compiled for the device too), and
// kept elements scale by 1 / (1 - p). The kernel walks y's memory order and maps each physical
// offset back to its logical index, so an nhwc tensor draws the same mask as an nchw one. The
// workspace holds the mask as values (0 or 1 / (1 - p)) in y's layout, so the backward is one
// multiply.
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/launch.cuh"

namespace mt {
namespace {

using cuda::grid_stride;
using cuda::in_order_of;
using cuda::same_order;

// Maps a physical offset to the row-major logical index: the identity for row-major tensors,
// (n, h, w, c) -> (n, c, h, w) for nhwc ones.
struct LogicalIndex {
  bool nhwc;
  int64_t C, H, W;
  __device__ int64_t operator()(int64_t i) const {
    if (!nhwc) return i;
    const cuda::Index4 at = cuda::unravel(i, C, H, W, true);
    return ((at.n * C + at.c) * H + at.h) * W + at.w;
  }
};

// x lies like y; y may alias x.
__global__ void dropout_fwd_kernel(const float* x, float* y, float* mask, int64_t n, double p,
                                   float keep, uint64_t seed, LogicalIndex logical) {
  for (int64_t i : grid_stride(n)) {
    const float m = dropout_uniform(seed, static_cast<uint64_t>(logical(i))) >= p ? keep : 0.0f;
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

__global__ void dropout_bwd_kernel(const float* dy, const float* mask, float* dx, int64_t n) {
  for (int64_t i : grid_stride(n)) dx[i] = dy[i] * mask[i];
}

}  // namespace

void CudaBackend::dropout_fwd(double p, uint64_t seed, const Tensor& x, Tensor& y,
                              Tensor& workspace) {
  cuda::check_device_tensor(x, "dropout_fwd", "x");
  cuda::check_device_tensor(y, "dropout_fwd", "y");
  cuda::check_same_shape(x, y, "dropout_fwd");
  MT_CHECK(p >= 0 && p < 1, BackendError, "[cuda dropout_fwd] p = ", p, " must be in [0, 1)");
  if (!workspace.defined() || workspace.shape() != x.shape() || workspace.dtype() != DType::f32 ||
      workspace.device() != device() || !same_order(workspace, y))
    workspace = Tensor::empty(x.shape(), DType::f32, y.layout(), device());
  const int64_t n = y.numel();
  if (n == 0) return;
  const Tensor src = in_order_of(*this, x, y);
  const bool nhwc = y.layout() == Layout::nhwc;
  const LogicalIndex logical{nhwc, nhwc ? y.dim(1) : 0, nhwc ? y.dim(2) : 0, nhwc ? y.dim(3) : 0};
  const float keep = static_cast<float>(1 / (1 - p));
  dropout_fwd_kernel<<<cuda::blocks_for(n), cuda::kThreads, 0, context_->stream()>>>(
      src.data<float>(), y.data<float>(), workspace.data<float>(), n, p, keep, seed, logical);
  MT_CUDA_CHECK_LAUNCH();
}

void CudaBackend::dropout_bwd(double /*p: the mask holds it*/, const Tensor& workspace,
                              const Tensor& dy, Tensor& dx) {
  MT_CHECK(workspace.defined() && workspace.shape() == dy.shape(), BackendError,
           "[cuda dropout_bwd] no mask for ", dy.shape().str(), ": run dropout_fwd first");
  cuda::check_device_tensor(workspace, "dropout_bwd", "workspace (the mask)");
  cuda::check_device_tensor(dy, "dropout_bwd", "dy");
  cuda::check_device_tensor(dx, "dropout_bwd", "dx");
  cuda::check_same_shape(dy, dx, "dropout_bwd");
  const int64_t n = dx.numel();
  if (n == 0) return;
  const Tensor g = in_order_of(*this, dy, dx), mask = in_order_of(*this, workspace, dx);
  dropout_bwd_kernel<<<cuda::blocks_for(n), cuda::kThreads, 0, context_->stream()>>>(
      g.data<float>(), mask.data<float>(), dx.data<float>(), n);
  MT_CUDA_CHECK_LAUNCH();
}

}  // namespace mt
