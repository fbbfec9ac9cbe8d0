#include "trainers/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

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
