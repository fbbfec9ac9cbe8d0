#pragma once
// Bringing a decoded image to a fixed square size: the shorter side is resized to `size`, then the
// centre is cropped (torchvision's Resize(size) followed by CenterCrop(size)).
#include <cstdint>
#include <vector>

#include "trainers/image_codec.h"

namespace mt {

// Returns the [C, size, size] planar pixels. The filter is bilinear (a triangle), widened by the
// shrink factor when shrinking so that every input pixel contributes (PIL's antialiased bilinear);
// sample centres sit at half-pixel positions. An image that already has the target size on both
// sides comes back unchanged.
std::vector<uint8_t> resize_center_crop(const Image& image, int64_t size);

}  // namespace mt
