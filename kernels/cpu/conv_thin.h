#pragma once
// Direct convolutions for thin layers in nhwc: few filters over a wide input (a pruned block's
// 16 -> 3), a narrow input into many filters (3 -> 16, or an image's 1 -> 16), or narrow on both
// sides (a block pruned to its last channels: 4 -> 1 -> 4). oneDNN's kernels
// work on blocks of 16 channels on both sides, so such a layer costs it nearly as much time as an
// unpruned one (1.5 ms for 16 -> 1 against 2.6 ms for 16 -> 16 at batch 128, 28 x 28). These loops
// vectorise over the wide side only and keep several output pixels in flight; with no wide side,
// over neighbouring output pixels.
//
// Forward only: training's backward stays on oneDNN (its data and weight gradients are the wide
// side's GEMMs, which oneDNN runs well).
#include "core/backend.h"
#include "core/tensor.h"

namespace mt::cpu {

// Largest filter count of a thin-output conv, largest channel count of a thin-input one.
constexpr int64_t kThinOutMax = 8;
constexpr int64_t kThinInMax = 8;

// Whether thin_conv_forward serves this call: f32, groups 1, dilation 1, x and y dense nhwc, w
// dense [O, C, kH, kW], and either O <= kThinOutMax with C a multiple of 16, or C <= kThinInMax
// with O a multiple of 16 (at most 64) and a kernel of at most 3x3, or, with stride 1,
// O <= kThinOutMax and C <= kThinInMax.
bool thin_conv_applies(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& y);

// On unless switched off (the entry points do so for MORPHTRAIN_THIN_CONV=0: tools/environment.h);
// off, oneDNN runs every convolution (to measure what the thin kernels buy).
bool thin_conv_enabled();
void set_thin_conv_enabled(bool on);

// y = conv(x, w) + b, then max(y, 0) when relu. b may be undefined (no bias).
void thin_conv_forward(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& b,
                       Tensor& y, bool relu);

}  // namespace mt::cpu
