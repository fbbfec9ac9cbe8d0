// CudaBackend pooling with PyTorch's window rules (kernels/reference/pool2d.h): max, average and
// global average. Forward kernels run one thread per output element, backward kernels one thread
// per input element that gathers from the windows covering it, so dx is written whole, without
// atomics, and each dx sums its terms in the reference's order (window rows, then columns): f32
// results match the reference bit for bit. Every tensor is read through its own strides, so any
// mix of nchw and nhwc works; threads walk the written tensor's memory order.
//
// The max-pool workspace is the reference's: i64 [N, C, OH, OW], the argmax of each window as
// h * W + w in its input plane (y's layout). The forward (re)allocates it when it does not fit.
#include <algorithm>
#include <cmath>

#include "core/ops/pool2d.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

namespace mt {
namespace {

using cuda::Index4;
using cuda::kThreads;
using cuda::Strides4;
using cuda::strides_of;
using cuda::unravel;

struct PoolGeometry {
  int64_t C, H, W, OH, OW;  // input [N, C, H, W], output [N, C, OH, OW]
  int kh, kw, sh, sw, ph, pw;
  bool count_include_pad;
};

PoolGeometry geometry_of(const Pool2dDesc& d, const Shape& x, const Shape& y) {
  PoolGeometry g;
  g.C = x[1], g.H = x[2], g.W = x[3], g.OH = y[2], g.OW = y[3];
  g.kh = d.kernel_h, g.kw = d.kernel_w, g.sh = d.stride_h, g.sw = d.stride_w;
  g.ph = d.pad_h, g.pw = d.pad_w;
  g.count_include_pad = d.count_include_pad;
  return g;
}

// One axis of one window: output o covers inputs [o*s - p, o*s - p + k), clipped to [0, in).
struct Span {
  int64_t begin, end;  // real inputs
  int64_t padded;      // the extent count_include_pad divides by
};

__device__ inline Span window_span(int64_t o, int k, int s, int p, int64_t in) {
  const int64_t start = o * s - p;
  const int64_t padded_end = std::min<int64_t>(start + k, in + p);
  return {std::max<int64_t>(start, 0), std::min<int64_t>(start + k, in), padded_end - start};
}

// The outputs [first, last) along one axis whose windows hold input index i.
struct Cover {
  int64_t first, last;
};

__device__ inline Cover covering(int64_t i, int k, int s, int p, int64_t out) {
  const int64_t low = i + p - k;  // o covers i iff low < o*s <= i + p
  return {low < 0 ? 0 : low / s + 1, std::min<int64_t>((i + p) / s + 1, out)};
}

__device__ inline int64_t avg_divisor(const PoolGeometry& g, const Span& h, const Span& w) {
  if (g.count_include_pad) return h.padded * w.padded;
  return (h.end - h.begin) * (w.end - w.begin);
}

__global__ void maxpool_fwd_kernel(const float* x, Strides4 xs, float* y, Strides4 ys,
                                   int64_t* arg, Strides4 as, PoolGeometry g, int64_t count,
                                   bool y_nhwc) {
  for (int64_t i : cuda::grid_stride(count)) {
    const Index4 o = unravel(i, g.C, g.OH, g.OW, y_nhwc);
    const Span sh = window_span(o.h, g.kh, g.sh, g.ph, g.H);
    const Span sw = window_span(o.w, g.kw, g.sw, g.pw, g.W);
    float best = -INFINITY;
    int64_t best_at = sh.begin * g.W + sw.begin;
    for (int64_t h = sh.begin; h < sh.end; ++h)
      for (int64_t w = sw.begin; w < sw.end; ++w) {
        const float v = x[xs.at(o.n, o.c, h, w)];
        if (v > best || v != v) {  // strict >: the first max wins; a NaN (v != v) propagates
          best = v;
          best_at = h * g.W + w;
        }
      }
    y[ys.at(o.n, o.c, o.h, o.w)] = best;
    arg[as.at(o.n, o.c, o.h, o.w)] = best_at;
  }
}

__global__ void maxpool_bwd_kernel(const float* dy, Strides4 dys, const int64_t* arg,
                                   Strides4 as, float* dx, Strides4 dxs, PoolGeometry g,
                                   int64_t count, bool dx_nhwc) {
  for (int64_t i : cuda::grid_stride(count)) {
    const Index4 p = unravel(i, g.C, g.H, g.W, dx_nhwc);
    const Cover ch = covering(p.h, g.kh, g.sh, g.ph, g.OH);
    const Cover cw = covering(p.w, g.kw, g.sw, g.pw, g.OW);
    const int64_t self = p.h * g.W + p.w;
    float sum = 0;
    for (int64_t oh = ch.first; oh < ch.last; ++oh)
      for (int64_t ow = cw.first; ow < cw.last; ++ow)
        if (arg[as.at(p.n, p.c, oh, ow)] == self) sum += dy[dys.at(p.n, p.c, oh, ow)];
    dx[dxs.at(p.n, p.c, p.h, p.w)] = sum;
  }
}

__global__ void avgpool_fwd_kernel(const float* x, Strides4 xs, float* y, Strides4 ys,
                                   PoolGeometry g, int64_t count, bool y_nhwc) {
  for (int64_t i : cuda::grid_stride(count)) {
    const Index4 o = unravel(i, g.C, g.OH, g.OW, y_nhwc);
    const Span sh = window_span(o.h, g.kh, g.sh, g.ph, g.H);
    const Span sw = window_span(o.w, g.kw, g.sw, g.pw, g.W);
    double sum = 0;
    for (int64_t h = sh.begin; h < sh.end; ++h)
      for (int64_t w = sw.begin; w < sw.end; ++w) sum += x[xs.at(o.n, o.c, h, w)];
    y[ys.at(o.n, o.c, o.h, o.w)] = static_cast<float>(sum / avg_divisor(g, sh, sw));
  }
}

// Each window's dy spreads evenly over its real inputs; an input adds the shares of its windows.
__global__ void avgpool_bwd_kernel(const float* dy, Strides4 dys, float* dx, Strides4 dxs,
                                   PoolGeometry g, int64_t count, bool dx_nhwc) {
  for (int64_t i : cuda::grid_stride(count)) {
    const Index4 p = unravel(i, g.C, g.H, g.W, dx_nhwc);
    const Cover ch = covering(p.h, g.kh, g.sh, g.ph, g.OH);
    const Cover cw = covering(p.w, g.kw, g.sw, g.pw, g.OW);
    float sum = 0;
    for (int64_t oh = ch.first; oh < ch.last; ++oh) {
      const Span sh = window_span(oh, g.kh, g.sh, g.ph, g.H);
      for (int64_t ow = cw.first; ow < cw.last; ++ow) {
        const Span sw = window_span(ow, g.kw, g.sw, g.pw, g.W);
        sum += static_cast<float>(double(dy[dys.at(p.n, p.c, oh, ow)]) / avg_divisor(g, sh, sw));
      }
    }
    dx[dxs.at(p.n, p.c, p.h, p.w)] = sum;
  }
}

// Global average, channel innermost (nhwc): one thread per (n, c); neighbours read neighbours.
__global__ void global_avg_threads_kernel(const float* x, Strides4 xs, float* y, int64_t y_n,
                                          int64_t y_c, int64_t N, int64_t C, int64_t H,
                                          int64_t W) {
  for (int64_t i : cuda::grid_stride(N * C)) {
    const int64_t n = i / C, c = i % C;
    double sum = 0;
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w) sum += x[xs.at(n, c, h, w)];
    y[n * y_n + c * y_c] = static_cast<float>(sum / (H * W));
  }
}

// Global average over contiguous planes (nchw): one warp per (n, c).
__global__ void global_avg_warps_kernel(const float* x, Strides4 xs, float* y, int64_t y_n,
                                        int64_t y_c, int64_t N, int64_t C, int64_t H, int64_t W) {
  const int lane = threadIdx.x % cuda::kWarpSize;
  for (int64_t o : cuda::warp_stride(N * C)) {
    const int64_t n = o / C, c = o % C;
    double sum = 0;
    for (int64_t j = lane; j < H * W; j += cuda::kWarpSize) sum += x[xs.at(n, c, j / W, j % W)];
    sum = cuda::warp_sum(sum);
    if (lane == 0) y[n * y_n + c * y_c] = static_cast<float>(sum / (H * W));
  }
}

__global__ void global_avg_bwd_kernel(const float* dy, int64_t dy_n, int64_t dy_c, float* dx,
                                      Strides4 dxs, int64_t C, int64_t H, int64_t W,
                                      int64_t count, bool dx_nhwc) {
  for (int64_t i : cuda::grid_stride(count)) {
    const Index4 p = unravel(i, C, H, W, dx_nhwc);
    dx[dxs.at(p.n, p.c, p.h, p.w)] =
        static_cast<float>(double(dy[p.n * dy_n + p.c * dy_c]) / (H * W));
  }
}

bool is_nhwc(const Tensor& t) { return t.layout() == Layout::nhwc; }

// y (or dy) must be the pooled shape of x (or dx).
void check_pool(const char* op, const Pool2dDesc& d, const Tensor& in, const Tensor& out,
                const char* in_name, const char* out_name) {
  cuda::check_device_tensor(in, op, in_name);
  cuda::check_device_tensor(out, op, out_name);
  const Shape expected = pool_output_shape(op, d, in.shape());
  MT_CHECK(out.shape() == expected, ShapeError, "[cuda ", op, "] ", out_name, " ",
           out.shape().str(), " for ", in_name, " ", in.shape().str(), ", expected ",
           expected.str());
}

void check_global(const char* op, const Tensor& x, const Tensor& y, const char* x_name,
                  const char* y_name) {
  cuda::check_device_tensor(x, op, x_name);
  cuda::check_device_tensor(y, op, y_name);
  MT_CHECK(x.rank() == 4 && y.shape() == Shape({x.dim(0), x.dim(1)}), ShapeError, "[cuda ", op,
           "] ", x_name, " ", x.shape().str(), " and ", y_name, " ", y.shape().str(),
           " must be [N, C, H, W] and [N, C]");
}

}  // namespace

void CudaBackend::maxpool_fwd(const Pool2dDesc& d, const Tensor& x, Tensor& y, Tensor& workspace) {
  check_pool("maxpool_fwd", d, x, y, "x", "y");
  if (!workspace.defined() || workspace.shape() != y.shape() || workspace.dtype() != DType::i64 ||
      workspace.device() != device())
    workspace = Tensor::empty(y.shape(), DType::i64, y.layout(), device());
  const int64_t count = y.numel();
  if (count == 0) return;
  maxpool_fwd_kernel<<<cuda::blocks_for(count), kThreads, 0, context_->stream()>>>(
      x.data<float>(), strides_of(x), y.data<float>(), strides_of(y), workspace.data<int64_t>(),
      strides_of(workspace), geometry_of(d, x.shape(), y.shape()), count, is_nhwc(y));
  MT_CUDA_CHECK_LAUNCH();
}

void CudaBackend::maxpool_bwd(const Pool2dDesc& d, const Tensor& x, const Tensor& dy,
                              const Tensor& workspace, Tensor& dx) {
  check_pool("maxpool_bwd", d, dx, dy, "dx", "dy");
  cuda::check_same_shape(x, dx, "maxpool_bwd");
  MT_CHECK(workspace.defined() && workspace.dtype() == DType::i64 &&
               workspace.device() == device() && workspace.shape() == dy.shape(),
           BackendError, "[cuda maxpool_bwd] the workspace must be the i64 argmax ",
           dy.shape().str(), " of maxpool_fwd on this GPU (run the forward first)");
  const int64_t count = dx.numel();
  if (count == 0) return;
  maxpool_bwd_kernel<<<cuda::blocks_for(count), kThreads, 0, context_->stream()>>>(
      dy.data<float>(), strides_of(dy), workspace.data<int64_t>(), strides_of(workspace),
      dx.data<float>(), strides_of(dx), geometry_of(d, dx.shape(), dy.shape()), count,
      is_nhwc(dx));
  MT_CUDA_CHECK_LAUNCH();
}

void CudaBackend::avgpool_fwd(const Pool2dDesc& d, const Tensor& x, Tensor& y) {
  check_pool("avgpool_fwd", d, x, y, "x", "y");
  const int64_t count = y.numel();
  if (count == 0) return;
  avgpool_fwd_kernel<<<cuda::blocks_for(count), kThreads, 0, context_->stream()>>>(
      x.data<float>(), strides_of(x), y.data<float>(), strides_of(y),
      geometry_of(d, x.shape(), y.shape()), count, is_nhwc(y));
  MT_CUDA_CHECK_LAUNCH();
}

void CudaBackend::avgpool_bwd(const Pool2dDesc& d, const Tensor& dy, Tensor& dx) {
  check_pool("avgpool_bwd", d, dx, dy, "dx", "dy");
  const int64_t count = dx.numel();
  if (count == 0) return;
  avgpool_bwd_kernel<<<cuda::blocks_for(count), kThreads, 0, context_->stream()>>>(
      dy.data<float>(), strides_of(dy), dx.data<float>(), strides_of(dx),
      geometry_of(d, dx.shape(), dy.shape()), count, is_nhwc(dx));
  MT_CUDA_CHECK_LAUNCH();
}

void CudaBackend::global_avgpool_fwd(const Tensor& x, Tensor& y) {
  check_global("global_avgpool_fwd", x, y, "x", "y");
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  if (N * C == 0) return;
  const cudaStream_t stream = context_->stream();
  if (x.stride(1) == 1)
    global_avg_threads_kernel<<<cuda::blocks_for(N * C), kThreads, 0, stream>>>(
        x.data<float>(), strides_of(x), y.data<float>(), y.stride(0), y.stride(1), N, C, H, W);
  else
    global_avg_warps_kernel<<<cuda::blocks_for(N * C * cuda::kWarpSize), kThreads, 0, stream>>>(
        x.data<float>(), strides_of(x), y.data<float>(), y.stride(0), y.stride(1), N, C, H, W);
  MT_CUDA_CHECK_LAUNCH();
}

void CudaBackend::global_avgpool_bwd(const Tensor& dy, Tensor& dx) {
  check_global("global_avgpool_bwd", dx, dy, "dx", "dy");
  const int64_t count = dx.numel();
  if (count == 0) return;
  global_avg_bwd_kernel<<<cuda::blocks_for(count), kThreads, 0, context_->stream()>>>(
      dy.data<float>(), dy.stride(0), dy.stride(1), dx.data<float>(), strides_of(dx), dx.dim(1),
      dx.dim(2), dx.dim(3), count, is_nhwc(dx));
  MT_CUDA_CHECK_LAUNCH();
}

}  // namespace mt
