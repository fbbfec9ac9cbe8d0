#pragma once
// The two loops batch norm is made of, for x [N, C, H, W] in nhwc or nchw: per-channel sums over
// the N*H*W positions, and a per-channel affine map. Both run at memory speed for any C: in nhwc
// the per-channel coefficients are replicated over 16 rows, so the inner loop walks 16*C
// contiguous floats (whole vectors) whatever the channel count.
#include <cstdint>

#include "core/tensor.h"

namespace mt::cpu {

struct ChannelGeometry {
  bool nhwc;
  int64_t C;                                              // channels
  int64_t hw;                                             // positions per image
  int64_t M;                                              // positions per channel, N * H * W
  int64_t rows() const { return nhwc ? M : M / hw * C; }  // pixels (nhwc) or planes (nchw)
  int64_t row_len() const { return nhwc ? C : hw; }
};

ChannelGeometry channel_geometry(const Tensor& x);

// s1[c] = sum (x - k[c]), s2[c] = sum (x - k[c])^2. A shift k near the mean keeps
// E[x^2] - E[x]^2 from cancelling; sums run in float over short runs, then in double.
void shifted_sums(const ChannelGeometry& g, const float* x, const float* k, double* s1, double* s2);

// s1[c] = sum dy, s2[c] = sum dy * (x - mean[c]); dy and x lie alike.
void grad_sums(const ChannelGeometry& g, const float* dy, const float* x, const float* mean,
               double* s1, double* s2);

// The same through a fused ReLU whose mask is made from x as the forward made its output:
// m = [scale[c] * x + offset[c] > 0], s1[c] = sum m dy, s2[c] = sum m dy * (x - mean[c]).
void masked_grad_sums(const ChannelGeometry& g, const float* dy, const float* x, const float* mean,
                      const float* scale, const float* offset, double* s1, double* s2);
// out = p[c] * m dy + q[c] * x + r[c] with that mask: dx of a batch norm through its ReLU.
void masked_channel_affine(const ChannelGeometry& g, const float* dy, const float* x, const float* p,
                           const float* q, const float* r, const float* scale, const float* offset, float* out);

// out = p[c] * u + q[c] * v + r[c]; v may be null (then q is unused). u, v and out lie alike.
// relu: clamp the result at 0 (a fused batch norm + ReLU).
void channel_affine(const ChannelGeometry& g, const float* u, const float* v, const float* p,
                    const float* q, const float* r, float* out, bool relu = false);

}  // namespace mt::cpu
