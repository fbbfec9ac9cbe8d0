#pragma once
// Bringing a decoded image to a fixed size: scaled (aspect ratio kept) until it covers the size,
// then the centre is cropped. For a square size that is torchvision's Resize(size) followed by
// CenterCrop(size): the shorter side is resized to `size`.
#include <cstdint>
#include <vector>

#include "trainers/image_codec.h"

namespace mt {

// Returns the [C, size, size] planar pixels. The filter is bilinear (a triangle), widened by the
// shrink factor when shrinking so that every input pixel contributes (PIL's antialiased bilinear);
// sample centres sit at half-pixel positions. An image that already has the target size on both
// sides comes back unchanged.
std::vector<uint8_t> resize_center_crop(const Image& image, int64_t size);
// The same to [C, height, width].
std::vector<uint8_t> resize_center_crop(const Image& image, int64_t height, int64_t width);
// The whole image stretched to [C, height, width] (aspect ratio not kept), with the same filter:
// the last step of a random-resized crop.
std::vector<uint8_t> resize_to(const Image& image, int64_t height, int64_t width);
// The height x width window at (top, left), interleaved as decoded.
Image crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width);

}  // namespace mt
