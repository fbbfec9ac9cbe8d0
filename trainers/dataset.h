#pragma once
// An in-memory image classification data set: 8-bit pixels (as IDX and CIFAR store them) and
// labels, turned into normalised float batches on demand.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "trainers/sample_source.h"

namespace mt {

struct Dataset {
  std::string name;
  Shape sample;                  // [C, H, W]
  std::vector<uint8_t> pixels;   // N x C x H x W, row-major (empty when streamed)
  std::vector<int64_t> labels;   // N
  int64_t num_classes = 0;
  // Set: the samples are decoded on demand from here and `pixels` stays empty.
  std::shared_ptr<const SampleSource> source;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  bool streamed() const { return source != nullptr; }
  // Sample i as [C, H, W] bytes: in `pixels`, or decoded into `scratch` (sample.numel() bytes)
  // with the training transform drawn from `random`, or the evaluation one when it is null.
  const uint8_t* sample_pixels(int64_t i, uint8_t* scratch, std::mt19937_64* random = nullptr) const;
};

struct Normalization {
  std::vector<double> mean{0.0}, std{1.0};  // per channel, on pixels scaled to [0, 1]
};

// Per-channel mean and standard deviation of the pixels scaled to [0, 1] (a constant channel gets
// standard deviation 1, so normalising it only centres it). A streamed data set is measured on at
// most kStatisticsSamples samples spread evenly over it (evaluation transform).
inline constexpr int64_t kStatisticsSamples = 2000;
Normalization channel_statistics(const Dataset& data);

// Writes samples `indices` into images [B, C, H, W] (f32) and labels [B] (i64).
void fill_batch(const Dataset& data, const Normalization& norm, const int64_t* indices, int64_t count,
                Tensor& images, Tensor& labels);

}  // namespace mt
