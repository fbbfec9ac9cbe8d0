#include "trainers/augment.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace mt {

uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  MT_CHECK(n >= 1, ConfigError, "uniform_below needs n >= 1");
  // Accept only draws below the largest multiple of n, so every residue is equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t r = rng();
  while (r >= limit) r = rng();
  return r % n;
}

void augment_sample(const uint8_t* src, uint8_t* dst, const Shape& sample, const AugmentOptions& options,
                    std::mt19937_64& rng) {
  const int64_t c = sample[0], h = sample[1], w = sample[2], p = options.pad;
  MT_CHECK(p >= 0, ConfigError, "augmentation padding must be >= 0, got ", p);
  const int64_t dy = p > 0 ? static_cast<int64_t>(uniform_below(rng, 2 * p + 1)) - p : 0;
  const int64_t dx = p > 0 ? static_cast<int64_t>(uniform_below(rng, 2 * p + 1)) - p : 0;
  const bool flip = options.hflip && uniform_below(rng, 2) == 1;
  // Output (y, x) reads source (y + dy, x' + dx), x' = x or its mirror W - 1 - x: crop, then flip.
  const int64_t x_lo = std::clamp<int64_t>(-dx, 0, w), x_hi = std::clamp<int64_t>(w - dx, 0, w);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = 0; y < h; ++y) {
      uint8_t* out = dst + (ch * h + y) * w;
      const int64_t sy = y + dy;
      if (sy < 0 || sy >= h) {
        std::memset(out, 0, w);
        continue;
      }
      const uint8_t* in = src + (ch * h + sy) * w;
      for (int64_t x = 0; x < w; ++x) {
        const int64_t xc = flip ? w - 1 - x : x;  // the column of the cropped image
        out[x] = (xc >= x_lo && xc < x_hi) ? in[xc + dx] : 0;
      }
    }
}

}  // namespace mt
