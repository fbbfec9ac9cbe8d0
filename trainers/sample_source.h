#pragma once
// Samples that are not all in memory: a data set too large to hold (an ImageNet-sized image
// folder) keeps only its file list and labels, and each sample is decoded and transformed when a
// batch needs it, on the loader's worker threads (trainers/loader.h).
#include <cstdint>
#include <random>

namespace mt {

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  // Writes sample `index` as [C, H, W] planar bytes (Dataset::sample) into `out`. `random`: the
  // training transform, drawn from it (e.g. a random-resized crop and a flip); null: the
  // evaluation transform (e.g. resize and centre crop). Safe to call from several threads at once.
  virtual void read(int64_t index, std::mt19937_64* random, uint8_t* out) const = 0;
};

}  // namespace mt
