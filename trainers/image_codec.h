#pragma once
// Decoding PNG (libpng) and JPEG (libjpeg-turbo) files into 8-bit pixels.
#include <cstdint>
#include <string>
#include <vector>

namespace mt {

// 8-bit pixels, interleaved: pixels[(y * width + x) * channels + c].
struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // [H, W, C]
};

// Decodes the PNG or JPEG file at `path` (recognised by its signature, not its name) into
// `channels` = 1 (gray) or 3 (RGB) channels. Colour becomes gray with ITU-R 601 weights (as PIL's
// convert("L")); gray becomes RGB by copying; alpha is dropped (as PIL's convert("RGB")).
// An unreadable, truncated or corrupt file, or another format, throws DataError naming the file.
Image decode_image(const std::string& path, int channels);

// Converts a decoded gray or RGB image to `channels` as decode_image describes.
Image convert_channels(Image image, int channels);

}  // namespace mt
