#pragma once
// safetensors files, huggingface's weight format that PyTorch users load with
// `safetensors.torch.load_file`: an 8-byte little-endian header size N, N bytes of JSON
// (`{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}`,
// space-padded), then the tensors' bytes, row-major, back to back with no holes.
//
// Writing follows the reference writer byte for byte (tensors ordered by descending dtype rank,
// then name; header padded to a multiple of 8 so the data is 8-aligned) and is atomic
// (core/atomic_file.h). Reading validates everything the reference reader does and more
// (see read_safetensors) before it allocates a byte, and never allocates more than the file holds.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace mt {


struct SafetensorsContent {
  NamedTensors tensors;                         // in file (data offset) order
  std::map<std::string, std::string> metadata;  // `__metadata__`
};

// Tensors: f32/f64/i64 on the CPU, any layout (nhwc is written in logical NCHW order, as the
// format has no strides). Names must be unique, non-empty, valid UTF-8 and not `__metadata__`.
// Throws IoError naming the file; on failure an existing file at `path` is left untouched.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});
// The same bytes in memory (tests, golden comparisons, small blobs).
std::vector<uint8_t> serialize_safetensors(const NamedTensors& tensors,
                                           const std::map<std::string, std::string>& metadata = {});

// Rejects, with an IoError naming the file and the defect: files under 8 bytes, N > 1e8 or past
// the end of the file, a header that is not UTF-8, not a JSON object, nested deeper than a valid
// header, or has duplicate keys; entries without a known dtype, an unsigned-integer shape or two
// unsigned offsets; a size product that overflows; offsets that overlap, leave a hole or do not
// start at 0; end - begin != numel x dtype size; data not ending exactly at the end of the file;
// `__metadata__` values that are not strings. Valid files with dtypes morphtrain has no tensor
// type for (F16, BF16, I32, ...) are rejected by name. Tensors come back row-major (nchw).
SafetensorsContent read_safetensors(const std::string& path);
// The same parser over bytes in memory; `source` names them in errors (a fuzz harness entry).
SafetensorsContent parse_safetensors(const uint8_t* data, size_t size, std::string_view source);

}  // namespace mt
