// Channel concat and the option-A channel pad on the GPU. Each kernel walks one tensor in its own
// memory order (so its accesses are coalesced), recovers the logical (n, c, h, w) of each offset,
// and reaches the other tensor through that one's strides: nchw and nhwc operands mix freely.
#include "core/backend.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/launch.cuh"

namespace mt {
namespace {

using cuda::dims_of;
using cuda::grid_stride;
using cuda::Index4;
using cuda::Strides4;
using cuda::strides_of;
using cuda::unravel;

// A channel block of a whole tensor: part[:, c] <-> whole[:, offset + c], with `whole` already
// advanced to channel `offset`. Walks the part; kIntoWhole copies part -> whole, else back.
template <bool kIntoWhole>
__global__ void channel_block_kernel(float* part, float* whole, int64_t n, Index4 part_dims,
                                     bool part_nhwc, Strides4 whole_strides) {
  for (int64_t i : grid_stride(n)) {
    const Index4 at = unravel(i, part_dims, part_nhwc);
    const int64_t o = whole_strides.at(at.n, at.c, at.h, at.w);
    if constexpr (kIntoWhole)
      whole[o] = part[i];
    else
      part[i] = whole[o];
  }
}

template <bool kIntoWhole>
void copy_channel_block(cuda::Context& ctx, const Tensor& part, const Tensor& whole,
                        int64_t offset) {
  const int64_t n = part.numel();
  if (n == 0) return;
  float* base = whole.data<float>() + offset * whole.stride(1);
  channel_block_kernel<kIntoWhole><<<cuda::blocks_for(n), cuda::kThreads, 0, ctx.stream()>>>(
      part.data<float>(), base, n, dims_of(part), part.layout() == Layout::nhwc,
      strides_of(whole));
  MT_CUDA_CHECK_LAUNCH();
}

// Walks y: y[n, c, h, w] = x[n, c - pad_before, h * s, w * s] inside x's channels, else 0.
__global__ void channel_pad_fwd_kernel(const float* x, float* y, int64_t n, Index4 y_dims,
                                       bool y_nhwc, Strides4 x_strides, int64_t x_channels,
                                       int64_t pad_before, int64_t s) {
  for (int64_t i : grid_stride(n)) {
    const Index4 at = unravel(i, y_dims, y_nhwc);
    const int64_t c = at.c - pad_before;
    y[i] = c >= 0 && c < x_channels ? x[x_strides.at(at.n, c, at.h * s, at.w * s)] : 0.0f;
  }
}

// Walks dx: dx[n, c, h, w] = dy[n, c + pad_before, h / s, w / s] at the sampled positions, else 0.
__global__ void channel_pad_bwd_kernel(const float* dy, float* dx, int64_t n, Index4 dx_dims,
                                       bool dx_nhwc, Strides4 dy_strides, int64_t pad_before,
                                       int64_t s) {
  for (int64_t i : grid_stride(n)) {
    const Index4 at = unravel(i, dx_dims, dx_nhwc);
    const bool sampled = at.h % s == 0 && at.w % s == 0;
    dx[i] = sampled ? dy[dy_strides.at(at.n, at.c + pad_before, at.h / s, at.w / s)] : 0.0f;
  }
}

void check_rank4(const char* op, const char* what, const Tensor& t) {
  MT_CHECK(t.rank() == 4, ShapeError, "[cuda ", op, "] ", what, " ", t.shape().str(),
           " must be rank 4");
}

void check_channel_pad_shapes(const char* op, const ChannelPadDesc& d, const Tensor& x,
                              const Tensor& y) {
  check_rank4(op, "x", x);
  MT_CHECK(d.stride >= 1 && d.pad_before >= 0 && d.pad_after >= 0, ShapeError, "[cuda ", op,
           "] stride must be positive and padding non-negative");
  const int64_t s = d.stride;
  const Shape expected{x.dim(0), x.dim(1) + d.pad_before + d.pad_after, (x.dim(2) + s - 1) / s,
                       (x.dim(3) + s - 1) / s};
  MT_CHECK(y.shape() == expected, ShapeError, "[cuda ", op, "] y has shape ", y.shape().str(),
           ", expected ", expected.str(), " for x ", x.shape().str());
}

}  // namespace

void CudaBackend::concat_fwd(const std::vector<const Tensor*>& xs, Tensor& y) {
  cuda::check_device_tensor(y, "concat_fwd", "y");
  check_rank4("concat_fwd", "y", y);
  int64_t channels = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    MT_CHECK(xs[i] && xs[i]->defined(), BackendError, "[cuda concat_fwd] every input must be defined");
    const Tensor& x = *xs[i];
    cuda::check_device_tensor(x, "concat_fwd", "an input");
    MT_CHECK(x.rank() == 4 && x.dim(0) == y.dim(0) && x.dim(2) == y.dim(2) && x.dim(3) == y.dim(3),
             ShapeError, "[cuda concat_fwd] part ", i, " ", x.shape().str(), " does not match ",
             y.shape().str(), " outside the channel axis");
    channels += x.dim(1);
  }
  MT_CHECK(channels == y.dim(1), ShapeError, "[cuda concat_fwd] parts have ", channels,
           " channels in all, y has ", y.dim(1));
  int64_t offset = 0;
  for (const Tensor* x : xs) {
    copy_channel_block<true>(*context_, *x, y, offset);
    offset += x->dim(1);
  }
}

// A null (or undefined) entry needs no gradient; its channels still take their place in dy.
void CudaBackend::concat_bwd(const Tensor& dy, const std::vector<int64_t>& channels,
                             const std::vector<Tensor*>& dxs) {
  cuda::check_device_tensor(dy, "concat_bwd", "dy");
  check_rank4("concat_bwd", "dy", dy);
  MT_CHECK(channels.size() == dxs.size(), ShapeError, "[cuda concat_bwd] ", channels.size(),
           " widths for ", dxs.size(), " inputs");
  int64_t total = 0;
  for (int64_t c : channels) {
    MT_CHECK(c >= 0, ShapeError, "[cuda concat_bwd] negative width ", c);
    total += c;
  }
  MT_CHECK(total == dy.dim(1), ShapeError, "[cuda concat_bwd] the inputs have ", total,
           " channels in all, dy ", dy.shape().str());
  int64_t offset = 0;
  for (size_t i = 0; i < dxs.size(); ++i) {
    Tensor* dx = dxs[i];
    if (dx && dx->defined()) {
      cuda::check_device_tensor(*dx, "concat_bwd", "dx");
      MT_CHECK(dx->rank() == 4 && dx->dim(0) == dy.dim(0) && dx->dim(1) == channels[i] &&
                   dx->dim(2) == dy.dim(2) && dx->dim(3) == dy.dim(3),
               ShapeError, "[cuda concat_bwd] dx ", dx->shape().str(), " does not fit dy ",
               dy.shape().str(), " at channel ", offset);
      copy_channel_block<false>(*context_, *dx, dy, offset);
    }
    offset += channels[i];
  }
}

void CudaBackend::channel_pad_fwd(const ChannelPadDesc& d, const Tensor& x, Tensor& y) {
  cuda::check_device_tensor(x, "channel_pad_fwd", "x");
  cuda::check_device_tensor(y, "channel_pad_fwd", "y");
  check_channel_pad_shapes("channel_pad_fwd", d, x, y);
  const int64_t n = y.numel();
  if (n == 0) return;
  channel_pad_fwd_kernel<<<cuda::blocks_for(n), cuda::kThreads, 0, context_->stream()>>>(
      x.data<float>(), y.data<float>(), n, dims_of(y), y.layout() == Layout::nhwc, strides_of(x),
      x.dim(1), d.pad_before, d.stride);
  MT_CUDA_CHECK_LAUNCH();
}

void CudaBackend::channel_pad_bwd(const ChannelPadDesc& d, const Tensor& dy, Tensor& dx) {
  cuda::check_device_tensor(dy, "channel_pad_bwd", "dy");
  cuda::check_device_tensor(dx, "channel_pad_bwd", "dx");
  check_channel_pad_shapes("channel_pad_bwd", d, dx, dy);
  const int64_t n = dx.numel();
  if (n == 0) return;
  channel_pad_bwd_kernel<<<cuda::blocks_for(n), cuda::kThreads, 0, context_->stream()>>>(
      dy.data<float>(), dx.data<float>(), n, dims_of(dx), dx.layout() == Layout::nhwc,
      strides_of(dy), d.pad_before, d.stride);
  MT_CUDA_CHECK_LAUNCH();
}

}  // namespace mt
