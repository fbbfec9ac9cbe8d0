// The FiGS gate on the GPU: y = x * g[c] (relu(x) * g[c] with a fused ReLU), one gate per channel.
// A thread per channel evaluates gate_value() (core/backend.h, compiled for the device too) into
// the workspace [2, C]: g, then dg/dlogit. The backward writes dx and sums dy * x per channel in
// one pass over x and dy: channels-last tensors in blocks that read whole rows of C values (several
// rows per pass when C is small, so reads stay coalesced), nchw ones a warp per plane. One warp per
// channel then adds the partial sums in double and scales them by dg: no atomics, so the result
// is the same on every run.
#include <algorithm>

#include "core/backend.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

namespace mt {
namespace {

using cuda::grid_stride;
using cuda::kThreads;
using cuda::kWarpSize;

// Blocks in flight that keep a large GPU busy; more only lengthen the partial sums.
constexpr int64_t kTargetBlocks = 1024;

// x is [N, C, H, W] or [N, C]; logits (and dlogits) [C].
void check_gate_shapes(const char* op, const Tensor& x, const Shape& per_channel) {
  MT_CHECK(x.rank() == 4 || x.rank() == 2, ShapeError, "[cuda ", op, "] x ", x.shape().str(),
           " must be [N, C, H, W] or [N, C]");
  MT_CHECK(per_channel == Shape{x.dim(1)}, ShapeError, "[cuda ", op, "] logits ",
           per_channel.str(), " for x ", x.shape().str(), ": expected [", x.dim(1), "]");
}

int64_t pixels(const Tensor& t) { return t.rank() == 4 ? t.dim(2) * t.dim(3) : 1; }

// ---- forward

// workspace [2, C]: g, then dg/dlogit.
__global__ void gate_values_kernel(GateDesc d, const float* logits, int64_t logit_stride,
                                   float* workspace, int64_t C) {
  for (int64_t c : grid_stride(C)) {
    const GateValue v =
        gate_value(d, static_cast<double>(logits[c * logit_stride]), static_cast<uint64_t>(c));
    workspace[c] = static_cast<float>(v.g);
    workspace[C + c] = static_cast<float>(v.dg);
  }
}

// x lies like y; y may alias x.
__global__ void gate_fwd_kernel(const float* x, const float* gate, float* y, int64_t n, int64_t C,
                                int64_t HW, bool nhwc, bool relu) {
  for (int64_t i : grid_stride(n)) {
    const float v = x[i];
    y[i] = (relu && v < 0.0f ? 0.0f : v) * gate[cuda::channel_of(i, C, HW, nhwc)];
  }
}

// ---- backward

// x, dy and dx (when wanted) lie alike; dx may alias dy or x.
struct GateBwd {
  const float* x;
  const float* dy;
  const float* gate;  // [C]
  float* dx;          // null: not wanted
  float* partial;     // null: no dlogits wanted
  int64_t C;
  bool relu;

  // Writes dx[e] for an element of gate g and returns its term of the channel's sum.
  __device__ float visit(int64_t e, float g) const {
    const float grad = dy[e];
    if (!relu && !partial) {  // x is not needed
      dx[e] = grad * g;
      return 0.0f;
    }
    const float v = x[e];
    if (dx) dx[e] = !relu || v > 0.0f ? grad * g : 0.0f;
    return grad * (relu && v < 0.0f ? 0.0f : v);
  }
};

// Channels-last x: `rows` rows of C contiguous values. Block (b, tile) takes every gridDim.x-th
// pass of kThreads / tile rows and stores its sums for the tile's channels in partial[b][c].
__global__ void gate_bwd_rows_kernel(GateBwd op, int64_t rows, int tile) {
  const int rows_per_pass = kThreads / tile;
  const int lane_c = threadIdx.x % tile, row_in_pass = threadIdx.x / tile;
  const int64_t c = int64_t{blockIdx.y} * tile + lane_c;
  float acc = 0.0f;
  if (row_in_pass < rows_per_pass && c < op.C) {
    const float g = op.gate[c];
    for (int64_t r = int64_t{blockIdx.x} * rows_per_pass + row_in_pass; r < rows;
         r += int64_t{gridDim.x} * rows_per_pass)
      acc += op.visit(r * op.C + c, g);
  }
  if (!op.partial) return;  // the same for every thread: no barrier is skipped by only some
  __shared__ float sums[kThreads];
  sums[threadIdx.x] = acc;
  __syncthreads();
  if (row_in_pass == 0 && c < op.C) {
    float s = 0.0f;
    for (int j = 0; j < rows_per_pass; ++j) s += sums[j * tile + lane_c];
    op.partial[int64_t{blockIdx.x} * op.C + c] = s;
  }
}

// nchw x: planes of HW contiguous values, one warp per plane; partial[plane] = its sum.
__global__ void gate_bwd_planes_kernel(GateBwd op, int64_t planes, int64_t HW) {
  const int lane = threadIdx.x % kWarpSize;
  for (int64_t p : cuda::warp_stride(planes)) {
    const float g = op.gate[p % op.C];
    float acc = 0.0f;
    for (int64_t i = lane; i < HW; i += kWarpSize) acc += op.visit(p * HW + i, g);
    acc = cuda::warp_sum(acc);
    if (lane == 0 && op.partial) op.partial[p] = acc;
  }
}

// dlogits[c] = dg[c] * (sum over j < k of partial[j][c]): one warp per channel, in double.
__global__ void gate_dlogits_kernel(const float* partial, const float* dg, float* dlogits,
                                    int64_t dlogit_stride, int64_t C, int64_t k) {
  const int lane = threadIdx.x % kWarpSize;
  for (int64_t c : cuda::warp_stride(C)) {
    double s = 0;
    for (int64_t j = lane; j < k; j += kWarpSize) s += partial[j * C + c];
    s = cuda::warp_sum(s);
    if (lane == 0) dlogits[c * dlogit_stride] = static_cast<float>(s * double{dg[c]});
  }
}

void check_gate_bwd_operands(const Tensor& x, const Tensor& dy, const Tensor& workspace,
                             const Tensor& dx, const Tensor& dlogits) {
  constexpr const char* op = "gate_bwd";
  cuda::check_device_tensor(x, op, "x");
  cuda::check_device_tensor(dy, op, "dy");
  MT_CHECK(x.rank() == 4 || x.rank() == 2, ShapeError, "[cuda gate_bwd] x ", x.shape().str(),
           " must be [N, C, H, W] or [N, C]");
  cuda::check_same_shape(x, dy, op);
  MT_CHECK(workspace.defined() && workspace.shape() == (Shape{2, x.dim(1)}), BackendError,
           "[cuda gate_bwd] no gates for ", x.shape().str(), ": run gate_fwd first");
  cuda::check_device_tensor(workspace, op, "workspace (the gates)");
  if (dx.defined()) {
    cuda::check_device_tensor(dx, op, "dx");
    cuda::check_same_shape(x, dx, op);
  }
  if (dlogits.defined()) {
    cuda::check_device_tensor(dlogits, op, "dlogits");
    check_gate_shapes(op, x, dlogits.shape());
  }
}

// The backward's one pass over x and dy (lying alike, not empty): writes args.dx when set and,
// with `sums`, returns the partial sums of dy * x as [k, C] (else an undefined tensor).
Tensor gate_bwd_pass(cudaStream_t stream, const Tensor& x, GateBwd args, bool sums) {
  const int64_t N = x.dim(0), C = x.dim(1), HW = pixels(x);
  const bool channels_last = x.stride(1) == 1;  // nhwc, [N, C], or H = W = 1
  const int tile = static_cast<int>(std::min<int64_t>(C, kThreads));
  const int64_t tiles = (C + tile - 1) / tile, rows = N * HW, rows_per_pass = kThreads / tile;
  const int64_t row_blocks =
      std::clamp(kTargetBlocks / tiles, int64_t{1}, (rows + rows_per_pass - 1) / rows_per_pass);
  // One partial sum per block of rows, or per plane (sample).
  const int64_t k = channels_last ? row_blocks : N;
  Tensor partial;
  if (sums) {
    partial = Tensor::empty({k, C}, DType::f32, Layout::nchw, x.device());
    args.partial = partial.data<float>();
  }
  if (channels_last) {
    const dim3 grid(static_cast<unsigned>(row_blocks), static_cast<unsigned>(tiles));
    gate_bwd_rows_kernel<<<grid, kThreads, 0, stream>>>(args, rows, tile);
  } else {
    gate_bwd_planes_kernel<<<cuda::blocks_for(N * C * kWarpSize), kThreads, 0, stream>>>(
        args, N * C, HW);
  }
  MT_CUDA_CHECK_LAUNCH();
  return partial;
}

}  // namespace

void CudaBackend::gate_fwd(const GateDesc& d, const Tensor& x, const Tensor& logits, Tensor& y,
                           Tensor& workspace) {
  cuda::check_device_tensor(x, "gate_fwd", "x");
  cuda::check_device_tensor(logits, "gate_fwd", "logits");
  cuda::check_device_tensor(y, "gate_fwd", "y");
  check_gate_shapes("gate_fwd", x, logits.shape());
  cuda::check_same_shape(x, y, "gate_fwd");
  MT_CHECK(d.temperature > 0, BackendError, "[cuda gate_fwd] temperature ", d.temperature,
           " must be > 0");
  const int64_t C = x.dim(1);
  if (!workspace.defined() || workspace.shape() != Shape{2, C} || workspace.dtype() != DType::f32 ||
      workspace.device() != device())
    workspace = Tensor::empty({2, C}, DType::f32, Layout::nchw, device());
  float* ws = workspace.data<float>();
  if (C == 0) return;
  gate_values_kernel<<<cuda::blocks_for(C), kThreads, 0, context_->stream()>>>(
      d, logits.data<float>(), logits.stride(0), ws, C);
  MT_CUDA_CHECK_LAUNCH();
  const int64_t n = y.numel();
  if (n == 0) return;
  const Tensor src = cuda::in_order_of(*this, x, y);
  gate_fwd_kernel<<<cuda::blocks_for(n), kThreads, 0, context_->stream()>>>(
      src.data<float>(), ws, y.data<float>(), n, C, pixels(y), y.layout() == Layout::nhwc, d.relu);
  MT_CUDA_CHECK_LAUNCH();
}

void CudaBackend::gate_bwd(const GateDesc& d, const Tensor& x, const Tensor& dy,
                           const Tensor& workspace, Tensor& dx, Tensor& dlogits) {
  check_gate_bwd_operands(x, dy, workspace, dx, dlogits);
  if (!dx.defined() && !dlogits.defined()) return;
  const int64_t C = x.dim(1);
  cudaStream_t stream = context_->stream();
  if (x.numel() == 0) {  // no terms: every channel's sum is 0
    if (dlogits.numel() > 0) cuda::zero(*context_, dlogits);
    return;
  }
  // Walk x's order; dx is written there and copied out if it lies otherwise.
  const Tensor g = cuda::in_order_of(*this, dy, x);
  const Tensor out = dx.defined() ? cuda::output_in_order_of(*this, dx, x) : Tensor{};
  const GateBwd args{x.data<float>(),
                     g.data<float>(),
                     workspace.data<float>(),
                     out.defined() ? out.data<float>() : nullptr,
                     nullptr,
                     C,
                     d.relu};
  const Tensor partial = gate_bwd_pass(stream, x, args, dlogits.defined());  // [k, C]
  if (out.defined()) cuda::finish_output(*this, out, dx);
  if (!dlogits.defined()) return;
  gate_dlogits_kernel<<<cuda::blocks_for(C * kWarpSize), kThreads, 0, stream>>>(
      partial.data<float>(), workspace.data<float>() + C, dlogits.data<float>(), dlogits.stride(0),
      C, partial.dim(0));
  MT_CUDA_CHECK_LAUNCH();
}

}  // namespace mt
