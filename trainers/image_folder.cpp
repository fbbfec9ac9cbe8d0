#include "trainers/image_folder.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include "trainers/augment.h"
#include "trainers/image_codec.h"
#include "trainers/image_resize.h"

namespace mt {

namespace fs = std::filesystem;

namespace {
bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

std::vector<std::string> class_folders(const fs::path& root) {
  MT_CHECK(fs::is_directory(root), DataError, "image folder '", root.string(), "' does not exist or is not a directory");
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::directory_iterator(root))
    if (e.is_directory() && !hidden(e.path())) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  MT_CHECK(!names.empty(), DataError, "image folder '", root.string(),
           "' has no class sub-folders (expected one folder of images per class)");
  return names;
}

// Sorted, so that sample order (and with it a seeded run) does not depend on the file system.
std::vector<fs::path> image_files(const fs::path& folder) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(folder))
    if (e.is_regular_file() && !hidden(e.path()) && is_image_name(e.path())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  MT_CHECK(!files.empty(), DataError, "class folder '", folder.string(), "' holds no .png, .jpg or .jpeg file");
  return files;
}
// torchvision's RandomResizedCrop(scale=(0.08, 1), ratio=(3/4, 4/3)) window: ten tries at a
// random area and aspect ratio, else the centre crop of the aspect ratio clamped to the range.
struct Window {
  int64_t top, left, height, width;
};

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

Window random_resized_window(int64_t h, int64_t w, std::mt19937_64& rng) {
  const double area = static_cast<double>(h * w), log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (0.08 + 0.92 * uniform01(rng));
    const double aspect = std::exp(log_lo + (log_hi - log_lo) * uniform01(rng));
    const int64_t cw = std::llround(std::sqrt(target * aspect)), ch = std::llround(std::sqrt(target / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
      const int64_t top = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(h - ch + 1)));
      const int64_t left = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(w - cw + 1)));
      return {top, left, ch, cw};
    }
  }
  const double ratio = static_cast<double>(w) / static_cast<double>(h);
  int64_t cw = w, ch = h;
  if (ratio < 3.0 / 4.0) ch = std::llround(static_cast<double>(w) / (3.0 / 4.0));
  else if (ratio > 4.0 / 3.0) cw = std::llround(static_cast<double>(h) * (4.0 / 3.0));
  ch = std::min(ch, h), cw = std::min(cw, w);
  return {(h - ch) / 2, (w - cw) / 2, ch, cw};
}

// An image folder's samples, decoded when a batch asks for them.
class ImageFolderSource final : public SampleSource {
 public:
  ImageFolderSource(std::vector<fs::path> files, const ImageFolderOptions& options, int64_t width)
      : files_(std::move(files)), options_(options), width_(width) {}

  void read(int64_t index, std::mt19937_64* random, uint8_t* out) const override {
    const Image image = decode_image(files_.at(static_cast<size_t>(index)).string(), options_.channels);
    std::vector<uint8_t> pixels;
    const int64_t h = options_.size, w = width_;
    if (random && options_.random_crop) {
      const Window win = random_resized_window(image.height, image.width, *random);
      pixels = resize_to(crop(image, win.top, win.left, win.height, win.width), h, w);
      if (uniform_below(*random, 2) == 1)  // horizontal flip, p = 0.5
        for (int64_t row = 0; row < options_.channels * h; ++row) std::reverse(&pixels[row * w], &pixels[row * w] + w);
    } else {
      pixels = resize_center_crop(image, h, w);
    }
    std::copy(pixels.begin(), pixels.end(), out);
  }

 private:
  std::vector<fs::path> files_;
  ImageFolderOptions options_;
  int64_t width_;
};

}  // namespace

Dataset load_image_folder(const std::string& dir, const ImageFolderOptions& options,
                          std::vector<std::string>* class_names) {
  MT_CHECK(options.channels == 1 || options.channels == 3, ConfigError,
           "image folder channels must be 1 or 3, got ", options.channels);
  MT_CHECK(options.size > 0, ConfigError, "image folder size must be positive, got ", options.size);
  const std::vector<std::string> classes = class_folders(dir);
  std::vector<std::vector<fs::path>> files;
  size_t total = 0;
  for (const std::string& name : classes) {
    files.push_back(image_files(fs::path(dir) / name));
    total += files.back().size();
  }
  Dataset d;
  d.name = dir;
  const int64_t width = options.width > 0 ? options.width : options.size;
  d.sample = Shape{options.channels, options.size, width};
  d.num_classes = static_cast<int64_t>(classes.size());
  d.labels.reserve(total);
  if (options.stream) {
    std::vector<fs::path> all;
    all.reserve(total);
    for (size_t label = 0; label < classes.size(); ++label)
      for (fs::path& file : files[label]) {
        all.push_back(std::move(file));
        d.labels.push_back(static_cast<int64_t>(label));
      }
    d.source = std::make_shared<ImageFolderSource>(std::move(all), options, width);
    if (class_names) *class_names = classes;
    return d;
  }
  d.pixels.reserve(total * static_cast<size_t>(d.sample.numel()));
  for (size_t label = 0; label < classes.size(); ++label)
    for (const fs::path& file : files[label]) {
      const std::vector<uint8_t> pixels = resize_center_crop(decode_image(file.string(), options.channels), options.size, width);
      d.pixels.insert(d.pixels.end(), pixels.begin(), pixels.end());
      d.labels.push_back(static_cast<int64_t>(label));
    }
  if (class_names) *class_names = classes;
  return d;
}

}  // namespace mt
