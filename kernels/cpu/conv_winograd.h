#pragma once
// Which convolutions run on oneDNN's Winograd kernels (F(4x4, 3x3), AVX-512, f32): the 3x3,
// stride-1 ones with at least 32 channels on both sides, in multiples of 16. They compute the same
// convolution with 4 times fewer multiplications, in oneDNN's 16-channel blocked layout only, so
// the activations are reordered into it and back around each call (kernels/cpu/conv2d.cpp, which
// also asks 64 channels of evaluation's folded convolutions, and bounds the scratchpad);
// measured per layer through this backend, staging included, forward + both backwards, ms
// (`build/bench/bench_conv_winograd`, medians of 5 alternating rounds, 2026-12-08, Intel Xeon,
// 2 cores):
//
//   batch x channels x size    direct   Winograd
//   128 x 16 x 32x32             8.18       -      not taken: 1.0-1.4x slower as oneDNN alone
//   128 x 32 x 16x16             8.65       7.94
//   128 x 64 x 8x8               8.67       5.36
//    32 x 64 x 56x56            77.6       51.3
//    32 x 128 x 28x28           71.3       37.8
//    32 x 256 x 14x14           73.0       63.4   only the weight gradient: the others' scratchpads
//    32 x 512 x 7x7             75.5       77.5   none: are too large (kernels/cpu/conv2d.cpp)
//
// The results differ from the direct algorithm's within f32 rounding (the transforms reassociate
// sums), so the choice depends on the shape and the machine alone, never on a timing: a run repeats its numbers.
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
