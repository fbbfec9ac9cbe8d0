#include "trainers/idx.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "core/checked_size.h"

namespace mt {

std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  MT_CHECK(f, DataError, "cannot open '", path, "': ", std::strerror(errno));
  std::unique_ptr<gzFile_s, int (*)(gzFile)> guard(f, gzclose);
  std::vector<uint8_t> out;
  uint8_t chunk[1 << 16];
  for (;;) {
    const int n = gzread(f, chunk, sizeof chunk);
    if (n < 0) break;
    out.insert(out.end(), chunk, chunk + n);
    if (n == 0) break;
  }
  // zlib reports a truncated stream only through gzerror (Z_BUF_ERROR), not gzread's result.
  int err = Z_OK;
  const char* msg = gzerror(f, &err);
  MT_CHECK(err == Z_OK || err == Z_STREAM_END, DataError, "'", path, "' is corrupt or truncated after ",
           out.size(), " decompressed bytes: ", msg);
  return out;
}

namespace {
uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string out;
  for (int64_t d : dims) out += (out.empty() ? "" : " x ") + std::to_string(d);
  return out;
}

// Validates the header of an IDX file of u8 data and returns its dimensions; `data` then starts
// at offset 4 + 4 * dims.
std::vector<int64_t> idx_dims(const std::vector<uint8_t>& bytes, const std::string& path, int want_dims) {
  MT_CHECK(bytes.size() >= 4, DataError, "'", path, "': ", bytes.size(),
           " bytes is too short for an IDX header (offset 0)");
  MT_CHECK(bytes[0] == 0 && bytes[1] == 0, DataError, "'", path,
           "': not an IDX file (magic bytes 0-1 must be zero, offset 0)");
  MT_CHECK(bytes[2] == 0x08, DataError, "'", path, "': IDX element type 0x", std::hex, int{bytes[2]},
           std::dec, " at offset 2; only unsigned bytes (0x08) are supported");
  MT_CHECK(bytes[3] == want_dims, DataError, "'", path, "': ", int{bytes[3]},
           " dimensions at offset 3, expected ", want_dims);
  const size_t header = 4 + 4 * static_cast<size_t>(want_dims);
  MT_CHECK(bytes.size() >= header, DataError, "'", path, "': header truncated at offset ", bytes.size());
  std::vector<int64_t> dims;
  for (int d = 0; d < want_dims; ++d) dims.push_back(big_endian_u32(&bytes[4 + 4 * d]));
  const std::optional<size_t> product = checked_product(dims);
  MT_CHECK(product && *product <= bytes.size(), DataError, "'", path, "': the header's dimensions ",
           dims_text(dims), " promise ", (product ? std::to_string(*product) : "more than 2^64"),
           " data bytes but the file holds ", bytes.size(), " in all (truncated, or a corrupt header)");
  const size_t count = *product;
  const size_t expected = header + count;
  MT_CHECK(bytes.size() == expected, DataError, "'", path, "': the header promises ", count,
           " data bytes (", expected, " in all) but the file holds ", bytes.size(),
           (bytes.size() < expected ? " (truncated)" : " (trailing bytes)"));
  return dims;
}
}  // namespace

Dataset load_idx(const std::string& images_path, const std::string& labels_path, int64_t num_classes) {
  const std::vector<uint8_t> images = read_maybe_gzip(images_path);
  const std::vector<uint8_t> labels = read_maybe_gzip(labels_path);
  const std::vector<int64_t> idims = idx_dims(images, images_path, 3);
  const std::vector<int64_t> ldims = idx_dims(labels, labels_path, 1);
  MT_CHECK(idims[0] == ldims[0], DataError, "'", images_path, "' holds ", idims[0], " images but '",
           labels_path, "' holds ", ldims[0], " labels");
  Dataset d;
  d.name = images_path;
  d.sample = Shape{1, idims[1], idims[2]};
  d.num_classes = num_classes;
  d.pixels.assign(images.begin() + 16, images.end());
  d.labels.resize(ldims[0]);
  for (int64_t i = 0; i < ldims[0]; ++i) {
    const int64_t label = labels[8 + i];
    MT_CHECK(label < num_classes, DataError, "'", labels_path, "': label ", label, " of record ", i,
             " (offset ", 8 + i, ") is outside [0, ", num_classes - 1, "]");
    d.labels[i] = label;
  }
  return d;
}

}  // namespace mt
