// IDX files (MNIST, Fashion-MNIST), raw or gzipped. The input is split in two files: its first
// byte is the label file's share of the rest (in 256ths), so both headers and their agreement
// are exercised.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "scratch_file.h"
#include "trainers/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t rest = size - 1, labels = rest * data[0] / 256;
  const std::string labels_path = mt::fuzz::scratch_file("labels.idx", data + 1, labels);
  const std::string images_path = mt::fuzz::scratch_file("images.idx", data + 1 + labels, rest - labels);
  try {
    const mt::Dataset d = mt::load_idx(images_path, labels_path, 10);
    (void)d.size();
  } catch (const std::exception&) {
  }
  return 0;
}
