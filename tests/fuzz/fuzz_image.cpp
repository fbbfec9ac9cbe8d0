// Image files of an image folder (PNG, JPEG, recognised by signature): decoded to gray when the
// input's size is odd, to RGB otherwise.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "scratch_file.h"
#include "trainers/image_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mt::fuzz::scratch_file("image", data, size);
  try {
    const mt::Image image = mt::decode_image(path, size % 2 == 1 ? 1 : 3);
    (void)image.pixels.size();
  } catch (const std::exception&) {
  }
  return 0;
}
