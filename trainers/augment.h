#pragma once
// Training-time augmentation of u8 samples [C, H, W]: random crop after zero padding and random
// horizontal flip (the standard CIFAR recipe). All randomness comes from the caller's engine, so
// a caller that seeds it per epoch (or per batch) reproduces a run exactly.
#include <cstdint>
#include <random>

#include "core/shape.h"

namespace mt {

struct AugmentOptions {
  int64_t pad = 0;      // random crop: pad each border with `pad` zeros, crop back to H x W; 0: off
  bool hflip = false;   // mirror left-right with probability 1/2
  bool enabled() const { return pad > 0 || hflip; }
};

// A uniform integer in [0, n) by rejection, n >= 1. Written out (not std::uniform_int_distribution,
// whose algorithm differs between standard libraries) so that a seed means the same on any build.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n);

// Writes the augmented copy of `src` (one sample, shape `sample` = [C, H, W]) to `dst`, which must
// not overlap it. Draws, in this order: crop row offset, crop column offset (when pad > 0), then the
// flip (when hflip). The crop takes rows dy - pad .. dy - pad + H - 1 of the source (columns
// likewise), dy, dx uniform in [0, 2 * pad]; outside the source the pixels are 0.
void augment_sample(const uint8_t* src, uint8_t* dst, const Shape& sample, const AugmentOptions& options,
                    std::mt19937_64& rng);

}  // namespace mt
