#pragma once
// An in-memory image classification data set: 8-bit pixels (as IDX and CIFAR store them) and
// labels, turned into normalised float batches on demand.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace mt {

struct Dataset {
  std::string name;
  Shape sample;                  // [C, H, W]
  std::vector<uint8_t> pixels;   // N x C x H x W, row-major
  std::vector<int64_t> labels;   // N
  int64_t num_classes = 0;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

struct Normalization {
  std::vector<double> mean{0.0}, std{1.0};  // per channel, on pixels scaled to [0, 1]
};

// Per-channel mean and standard deviation of the pixels scaled to [0, 1] (a constant channel gets
// standard deviation 1, so normalising it only centres it).
Normalization channel_statistics(const Dataset& data);

// Writes samples `indices` into images [B, C, H, W] (f32) and labels [B] (i64).
void fill_batch(const Dataset& data, const Normalization& norm, const int64_t* indices, int64_t count,
                Tensor& images, Tensor& labels);

}  // namespace mt
