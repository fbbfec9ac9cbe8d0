#include "trainers/image_resize.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace mt {

namespace {
// The filter taps of output samples [offset, offset + n) of an axis resized from `in` to `out`
// samples: sample i reads input first[i] .. first[i] + count[i] - 1 with weights[i * stride + k].
struct Taps {
  std::vector<int64_t> first, count;
  std::vector<float> weights;
  int64_t stride = 0;
};

Taps axis_taps(int64_t in, int64_t out, int64_t offset, int64_t n) {
  const double scale = static_cast<double>(in) / out;
  const double support = std::max(scale, 1.0);  // the triangle's half-width in input pixels
  Taps t;
  t.stride = static_cast<int64_t>(std::ceil(2 * support)) + 2;
  t.first.resize(n);
  t.count.resize(n);
  t.weights.assign(n * t.stride, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    const double center = (offset + i + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(center - support)));
    const int64_t hi = std::min<int64_t>(in, static_cast<int64_t>(std::ceil(center + support)));
    // hi - lo <= 2 * support + 2 <= stride, so the taps fit their row.
    float* wt = t.weights.data() + i * t.stride;
    double sum = 0;
    for (int64_t j = lo; j < hi; ++j) {
      const double weight = std::max(0.0, 1 - std::abs(j + 0.5 - center) / support);
      wt[j - lo] = static_cast<float>(weight);
      sum += weight;
    }
    // Near the borders the taps are cut off; renormalising keeps flat regions flat there.
    for (int64_t j = lo; j < hi; ++j) wt[j - lo] = static_cast<float>(wt[j - lo] / sum);
    t.first[i] = lo;
    t.count[i] = hi - lo;
  }
  return t;
}

// Python's round(d / 2) for an integer d, which rounds halves to even: torchvision's crop offset.
int64_t half_to_even(int64_t d) {
  const int64_t half = d / 2;
  return (d % 2 != 0 && half % 2 != 0) ? half + 1 : half;
}
}  // namespace

std::vector<uint8_t> resize_center_crop(const Image& image, int64_t size) {
  return resize_center_crop(image, size, size);
}

namespace {
// One row's horizontal resampling, C channels interleaved; C is a constant so that the channel
// loop unrolls and the taps accumulate in registers.
template <int C>
void horizontal_taps(const uint8_t* src, const Taps& tx, int64_t width, float* dst) {
  for (int64_t x = 0; x < width; ++x) {
    const float* wt = tx.weights.data() + x * tx.stride;
    const uint8_t* in = src + tx.first[x] * C;
    float acc[C] = {};
    for (int64_t k = 0; k < tx.count[x]; ++k, in += C)
      for (int ch = 0; ch < C; ++ch) acc[ch] += wt[k] * static_cast<float>(in[ch]);
    for (int ch = 0; ch < C; ++ch) dst[x * C + ch] = acc[ch];
  }
}

// Resamples `image` as if scaled to out_h x out_w and returns the height x width window starting
// at (off_y, off_x) of the scaled image, planar [C, height, width].
std::vector<uint8_t> resample(const Image& image, int64_t out_h, int64_t out_w, int64_t off_y, int64_t off_x,
                              int64_t height, int64_t width) {
  const int64_t w = image.width, c = image.channels;
  const Taps ty = axis_taps(image.height, out_h, off_y, height);
  const Taps tx = axis_taps(w, out_w, off_x, width);

  // Horizontal pass over just the input rows the vertical taps read, kept in float.
  const int64_t y0 = ty.first.front(), y1 = ty.first.back() + ty.count.back();
  const int64_t row_size = width * c;
  std::vector<float> rows(static_cast<size_t>((y1 - y0) * row_size));  // [y1 - y0, width, C]
  for (int64_t y = y0; y < y1; ++y) {
    const uint8_t* src = image.pixels.data() + y * w * c;
    float* dst = rows.data() + (y - y0) * row_size;
    if (c == 3) horizontal_taps<3>(src, tx, width, dst);
    else horizontal_taps<1>(src, tx, width, dst);
  }
  // Vertical pass: whole rows weighted and summed (contiguous, so it vectorises), then rounded to
  // bytes and written planar.
  std::vector<float> acc(static_cast<size_t>(row_size));
  std::vector<uint8_t> out(static_cast<size_t>(c * height * width));  // [C, height, width]
  for (int64_t y = 0; y < height; ++y) {
    const float* wt = ty.weights.data() + y * ty.stride;
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t k = 0; k < ty.count[y]; ++k) {
      const float weight = wt[k];
      const float* row = rows.data() + (ty.first[y] + k - y0) * row_size;
      for (int64_t i = 0; i < row_size; ++i) acc[i] += weight * row[i];
    }
    for (int64_t x = 0; x < width; ++x)
      for (int64_t ch = 0; ch < c; ++ch)
        out[(ch * height + y) * width + x] = static_cast<uint8_t>(std::clamp(std::lround(acc[x * c + ch]), 0L, 255L));
  }
  return out;
}

void check_image(const Image& image, int64_t height, int64_t width) {
  MT_CHECK(height > 0 && width > 0, ConfigError, "image size must be positive, got ", height, "x", width);
  const int64_t h = image.height, w = image.width, c = image.channels;
  MT_CHECK(h > 0 && w > 0 && c > 0 && static_cast<int64_t>(image.pixels.size()) == h * w * c, ShapeError,
           "image resize: ", image.pixels.size(), " pixels for a ", h, "x", w, "x", c, " image");
}
}  // namespace

std::vector<uint8_t> resize_center_crop(const Image& image, int64_t height, int64_t width) {
  check_image(image, height, width);
  const int64_t h = image.height, w = image.width;
  // Scaled to cover height x width with the aspect ratio kept, the other side rounded down as
  // torchvision does (for a square target: the shorter side becomes the size).
  const bool by_height = height * w >= width * h;  // height / h >= width / w
  const int64_t out_h = by_height ? height : h * width / w;
  const int64_t out_w = by_height ? w * height / h : width;
  return resample(image, out_h, out_w, half_to_even(out_h - height), half_to_even(out_w - width), height, width);
}

std::vector<uint8_t> resize_to(const Image& image, int64_t height, int64_t width) {
  check_image(image, height, width);
  return resample(image, height, width, 0, 0, height, width);
}

Image crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  MT_CHECK(top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= image.height &&
               left + width <= image.width,
           ShapeError, "crop ", height, "x", width, " at (", top, ", ", left, ") outside a ", image.height, "x",
           image.width, " image");
  Image out{height, width, image.channels, {}};
  const int64_t c = image.channels;
  out.pixels.reserve(static_cast<size_t>(height * width * c));
  for (int64_t y = top; y < top + height; ++y) {
    const uint8_t* row = image.pixels.data() + (y * image.width + left) * c;
    out.pixels.insert(out.pixels.end(), row, row + width * c);
  }
  return out;
}

}  // namespace mt
