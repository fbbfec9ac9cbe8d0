#pragma once
// The small kernels around the library calls of convolutions and linear layers: the bias added
// after cuDNN or cuBLAS, the bias gradient (a per-channel sum) and the batch norm folded into
// inference weights. All run on `stream` and never block the host.
#include <cstdint>

#include "core/tensor.h"
#include "kernels/cuda/cuda_check.h"

namespace mt::cuda {

// y[i] += b[channel of i], then max(y, 0) when `relu`. y holds n elements of a [N, C, H, W]
// tensor (hw = H * W) with channels innermost (`channels_last`: nhwc, or a row-major [N, C]
// matrix with hw = 1) or outside the H * W plane (row-major nchw).
void add_channel_bias(cudaStream_t stream, float* y, const float* b, int64_t n, int64_t c,
                      int64_t hw, bool channels_last, bool relu);

// dst[c] = the sum over `outer` and `inner` of src laid out as [outer, C, inner]: nchw is
// outer = N, inner = H * W; nhwc is outer = N * H * W, inner = 1; a [N, C] matrix is outer = N,
// inner = 1. Sums run in double and in a fixed order, so the result is deterministic. `device`
// is where the per-chunk partial sums are allocated.
void channel_sums(cudaStream_t stream, const float* src, int64_t outer, int64_t c, int64_t inner,
                  float* dst, Device device);

// Inference batch norm folded into the convolution before it, with s = gamma / sqrt(var + eps):
// w_out[o, ...] = w[o, ...] * s[o] and b_out[o] = (b[o] - mean[o]) * s[o] + beta[o]. The filter
// index o is outermost in both filter layouts (OIHW and OHWI), so w may be either; w_out may be
// w. b, gamma and beta may be null (no bias: 0; no affine: gamma 1, beta 0).
struct BatchNormFold {
  const float* b;
  const float* gamma;
  const float* beta;
  const float* mean;
  const float* var;
  double eps;
};
void fold_batchnorm(cudaStream_t stream, const BatchNormFold& bn, const float* w, float* w_out,
                    int64_t out_channels, int64_t per_filter, float* b_out);

}  // namespace mt::cuda
