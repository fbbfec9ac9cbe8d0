#include "trainers/dataset.h"

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
  for (int64_t b = 0; b < count; ++b) {
    const int64_t i = indices[b];
    const uint8_t* src = data.pixels.data() + i * c * hw;
    for (int64_t ch = 0; ch < c; ++ch) {
      const float scale = static_cast<float>(1.0 / (255.0 * norm.std[ch]));
      const float shift = static_cast<float>(norm.mean[ch] / norm.std[ch]);
      for (int64_t p = 0; p < hw; ++p) out[(b * c + ch) * hw + p] = src[ch * hw + p] * scale - shift;
    }
    lab[b] = data.labels[i];
  }
}

}  // namespace mt
