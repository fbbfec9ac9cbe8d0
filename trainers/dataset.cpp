#include "trainers/dataset.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace mt {

void fill_batch(const Dataset& data, const Normalization& norm, const int64_t* indices, int64_t count,
                Tensor& images, Tensor& labels) {
  const int64_t c = data.sample[0], hw = data.sample[1] * data.sample[2];
  MT_CHECK(images.shape() == Shape({count, c, data.sample[1], data.sample[2]}) &&
               images.layout() == Layout::nchw && labels.shape() == Shape{count},
           ShapeError, "fill_batch: batch tensors ", images.shape().str(), " / ", labels.shape().str(),
           " do not fit ", count, " samples of ", data.sample.str());
  MT_CHECK(static_cast<int64_t>(norm.mean.size()) == c && static_cast<int64_t>(norm.std.size()) == c,
           ConfigError, "normalisation has ", norm.mean.size(), " means and ", norm.std.size(),
           " stds for ", c, " channels");
  float* out = images.data<float>();
  int64_t* lab = labels.data<int64_t>();
  std::vector<uint8_t> scratch(data.streamed() ? static_cast<size_t>(c * hw) : 0);
  for (int64_t b = 0; b < count; ++b) {
    const int64_t i = indices[b];
    const uint8_t* src = data.sample_pixels(i, scratch.data());
    for (int64_t ch = 0; ch < c; ++ch) {
      const float scale = static_cast<float>(1.0 / (255.0 * norm.std[ch]));
      const float shift = static_cast<float>(norm.mean[ch] / norm.std[ch]);
      for (int64_t p = 0; p < hw; ++p) out[(b * c + ch) * hw + p] = src[ch * hw + p] * scale - shift;
    }
    lab[b] = data.labels[i];
  }
}

const uint8_t* Dataset::sample_pixels(int64_t i, uint8_t* scratch, std::mt19937_64* random) const {
  if (!source) return pixels.data() + i * sample.numel();
  source->read(i, random, scratch);
  return scratch;
}

Normalization channel_statistics(const Dataset& data) {
  const int64_t channels = data.sample[0], plane = data.sample[1] * data.sample[2];
  Normalization n{std::vector<double>(channels, 0.0), std::vector<double>(channels, 1.0)};
  if (data.size() == 0) return n;
  // Integer histograms first: exact, and one pass over the bytes.
  std::vector<std::array<int64_t, 256>> histograms(channels);
  for (auto& h : histograms) h.fill(0);
  const int64_t step = data.streamed() ? std::max<int64_t>(1, data.size() / kStatisticsSamples) : 1;
  std::vector<uint8_t> scratch(data.streamed() ? static_cast<size_t>(data.sample.numel()) : 0);
  for (int64_t i = 0; i < data.size(); i += step) {
    const uint8_t* p = data.sample_pixels(i, scratch.data());
    for (int64_t ch = 0; ch < channels; ++ch)
      for (int64_t k = 0; k < plane; ++k) ++histograms[ch][p[ch * plane + k]];
  }
  for (int64_t ch = 0; ch < channels; ++ch) {
    const std::array<int64_t, 256>& histogram = histograms[ch];
    double count = 0, sum = 0, sum_sq = 0;
    for (int v = 0; v < 256; ++v) {
      const double x = v / 255.0, h = static_cast<double>(histogram[v]);
      count += h, sum += h * x, sum_sq += h * x * x;
    }
    const double mean = sum / count, var = std::max(sum_sq / count - mean * mean, 0.0);
    n.mean[ch] = mean;
    n.std[ch] = var > 1e-12 ? std::sqrt(var) : 1.0;
  }
  return n;
}

}  // namespace mt
