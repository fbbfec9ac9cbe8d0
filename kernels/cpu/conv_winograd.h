#pragma once
// Which convolutions run on oneDNN's Winograd kernels (F(4x4, 3x3), AVX-512, f32): the 3x3,
// stride-1 ones with at least 32 channels on both sides, in multiples of 16. They compute the same
// convolution with 4 times fewer multiplications, in oneDNN's 16-channel blocked layout only, so
// the activations are reordered into it and back around each call (kernels/cpu/conv2d.cpp);
// measured per layer on the 2-core Xeon, reorders included, forward + both backwards, ms
// (`bench_conv_algos`, 2026-12-08):
//
//   shape (batch, channels, size)   direct, nhwc   Winograd
//   128 x 16 x 32x32                  6.8-9.2        9.3-12.4   (16 channels: no gain; not used)
//   128 x 32 x 16x16                  7.1-8.5        4.5-6.0
//   128 x 64 x 8x8                    7.1-8.6        3.6-4.8
//    32 x 64 x 56x56                  78-101         44-56
//    32 x 256 x 14x14                 84-88          53-55
//
// The results differ from the direct algorithm's within f32 rounding (the transforms reassociate
// sums), so the choice depends on the shape alone, never on a timing: a run repeats its numbers.
// Where oneDNN has no Winograd kernel for the machine (no AVX-512), the direct one runs.
#include "core/backend.h"

namespace mt::cpu {

bool winograd_applies(const Conv2dDesc& d, int64_t in_channels, int64_t out_channels,
                      int64_t kernel_h, int64_t kernel_w);

// Whether oneDNN runs Winograd on this machine at all (it needs AVX-512); asked once.
bool winograd_available();

// On unless switched off (the entry points do so for MORPHTRAIN_WINOGRAD=0: tools/environment.h).
bool winograd_enabled();
void set_winograd_enabled(bool on);

}  // namespace mt::cpu
