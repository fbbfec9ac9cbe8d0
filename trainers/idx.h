#pragma once
// IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw: a big-endian header (two zero bytes,
// a type byte, a dimension count, one u32 per dimension) then the data.
#include <string>

#include "trainers/dataset.h"

namespace mt {

// Loads an image file (u8, 3 dims: N x H x W) and a label file (u8, 1 dim: N) into a data set
// with one channel. Every defect (bad magic, sizes that disagree with the file length, counts that
// differ, labels >= num_classes, truncated or corrupt gzip) throws DataError naming the file and
// the offset.
Dataset load_idx(const std::string& images_path, const std::string& labels_path, int64_t num_classes = 10);

// The whole decompressed content of a .gz (or raw) file; corrupt or truncated gzip is an error.
std::vector<uint8_t> read_maybe_gzip(const std::string& path);

}  // namespace mt
