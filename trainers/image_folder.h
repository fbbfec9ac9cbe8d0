#pragma once
// A labelled image folder (torchvision's ImageFolder layout): one sub-folder per class, the class
// ids given by the sub-folder names in sorted order, PNG and JPEG files inside (at any depth).
#include <string>
#include <vector>

#include "trainers/dataset.h"

namespace mt {

struct ImageFolderOptions {
  int64_t size = 32;  // every image becomes size x size (shorter side resized, centre cropped)
  int channels = 3;   // 3: RGB, 1: gray
  int64_t width = 0;  // > 0: size (height) x width instead (scaled to cover it, centre cropped)
  // Decode on demand (Dataset::source) instead of all at load: memory then holds the file list,
  // not the images. The training transform is then ImageNet's: a random-resized crop (area 8% to
  // 100%, aspect 3/4 to 4/3, torchvision's RandomResizedCrop) and a horizontal flip; evaluation
  // (and a data set read without a random engine) gets the resize and centre crop above.
  bool stream = false;
  bool random_crop = true;  // with stream: the training transform above (false: evaluation's)
};

// Loads every *.png, *.jpg and *.jpeg file (case-insensitive; other files and hidden entries are
// ignored) into a data set of [channels, size, width] samples, classes in sorted folder order, files
// in sorted path order within a class. `class_names`, when given, receives the folder names.
// A missing folder, no class folders, a class without images, or (when not streamed; streamed,
// at the batch that reads it) an image that cannot be decoded
// throws DataError naming the folder or the file.
Dataset load_image_folder(const std::string& dir, const ImageFolderOptions& options,
                          std::vector<std::string>* class_names = nullptr);

}  // namespace mt
