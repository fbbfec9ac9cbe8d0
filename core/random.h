#pragma once
// The one random source of a run: every draw (initialisation, shuffling, augmentation) comes from
// a generator seeded from the run's `seed`, so a run is reproducible from its config.
#include <cmath>
#include <cstdint>
#include <random>

namespace mt {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : engine_(seed) {}
  double uniform(double lo = 0, double hi = 1) {
    return lo + (hi - lo) * std::uniform_real_distribution<double>(0, 1)(engine_);
  }
  double normal(double mean = 0, double std = 1) {
    return std::normal_distribution<double>(mean, std)(engine_);
  }
  uint64_t next() { return engine_(); }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace mt
