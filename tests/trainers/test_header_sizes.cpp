// Sizes a file's header promises: dimensions whose product wraps past 2^64 (a tiny file would then
// pass the size check and training would read past its buffer) and images whose header promises
// more pixels than any training image has are rejected with a DataError naming the file.
#include <catch2/catch.hpp>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <vector>

#include "core/checked_size.h"
#include "core/error.h"
#include "tests/temp_dir.h"
#include "tests/trainers/image_files.h"
#include "trainers/image_codec.h"
#include "trainers/idx.h"

using namespace mt;
namespace fs = std::filesystem;

namespace {

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// An IDX file of unsigned bytes: magic, dimensions, then `data` as it is.
void write_idx(const fs::path& file, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> bytes = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) put_be32(bytes, d);
  bytes.insert(bytes.end(), data.begin(), data.end());
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::vector<uint8_t> read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const fs::path& file, const std::vector<uint8_t>& bytes) {
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::string data_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a DataError: ") + e.what();
  }
  return "no error";
}

// A valid 2x2 gray PNG and a valid 8x8 RGB JPEG.
void write_small_png(const fs::path& file) {
  testing::write_png(file, 2, 2, PNG_COLOR_TYPE_GRAY, {10, 20, 10, 20});
}

void write_small_jpeg(const fs::path& file) {
  testing::write_jpeg(file, 8, 8, 3, std::vector<uint8_t>(8 * 8 * 3, 128));
}

}  // namespace

TEST_CASE("checked_product reports overflow and negative factors", "[data]") {
  CHECK(checked_product({2, 3, 4}) == size_t{24});
  CHECK(checked_product(std::vector<int64_t>{}) == size_t{1});
  CHECK_FALSE(checked_product({int64_t{1} << 31, int64_t{1} << 31, 4}));  // exactly 2^64: wraps to 0
  CHECK_FALSE(checked_product({3, -1}));
  CHECK(checked_mul(SIZE_MAX, 1) == SIZE_MAX);
  CHECK_FALSE(checked_mul(SIZE_MAX, 2));
}

TEST_CASE("IDX: dimensions whose product wraps past 2^64 are rejected, naming the file", "[data]") {
  testing::TempDir dir("idx_overflow");
  const fs::path images = dir.path / "images-idx3-ubyte";
  const fs::path labels = dir.path / "labels-idx1-ubyte";
  // 4 x 2^31 x 2^31 = 2^64 wraps to 0 data bytes: unchecked, this header-only file is "complete".
  write_idx(images, {4, 1u << 31, 1u << 31}, {});
  write_idx(labels, {4}, {0, 1, 2, 3});
  const std::string message = data_error_of([&] { load_idx(images.string(), labels.string(), 10); });
  CHECK_THAT(message, Catch::Contains(images.string()) && Catch::Contains("more than 2^64"));

  SECTION("a product that fits but exceeds the file is rejected as truncated") {
    write_idx(images, {4, 1u << 20, 1u << 20}, std::vector<uint8_t>(64, 0));
    CHECK_THAT(data_error_of([&] { load_idx(images.string(), labels.string(), 10); }),
               Catch::Contains(images.string()) && Catch::Contains("4398046511104 data bytes"));
  }
  SECTION("a well-formed pair still loads") {
    write_idx(images, {4, 2, 3}, std::vector<uint8_t>(24, 7));
    const Dataset d = load_idx(images.string(), labels.string(), 10);
    CHECK(d.size() == 4);
    CHECK(d.pixels.size() == 24);
  }
}

TEST_CASE("Images whose header promises gigapixels are rejected before decoding", "[data]") {
  testing::TempDir dir("image_header");
  SECTION("PNG") {
    const fs::path file = dir.path / "huge.png";
    write_small_png(file);
    std::vector<uint8_t> bytes = read_bytes(file);
    // IHDR: length at 8, type at 12, width at 16, height at 20, CRC over type and data at 29.
    REQUIRE(std::string(bytes.begin() + 12, bytes.begin() + 16) == "IHDR");
    std::vector<uint8_t> dims;
    put_be32(dims, 1'000'000);  // libpng's own default limit per side
    put_be32(dims, 1'000'000);
    std::copy(dims.begin(), dims.end(), bytes.begin() + 16);
    const uint32_t crc = crc32(0, bytes.data() + 12, 17);
    std::vector<uint8_t> crc_bytes;
    put_be32(crc_bytes, crc);
    std::copy(crc_bytes.begin(), crc_bytes.end(), bytes.begin() + 29);
    write_bytes(file, bytes);
    CHECK_THAT(data_error_of([&] { decode_image(file.string(), 1); }),
               Catch::Contains("huge.png") && Catch::Contains("1000000 x 1000000 pixels"));
  }
  SECTION("JPEG") {
    const fs::path file = dir.path / "huge.jpg";
    write_small_jpeg(file);
    std::vector<uint8_t> bytes = read_bytes(file);
    // The baseline frame header: FF C0, length (2), precision (1), height (2), width (2).
    size_t sof = 0;
    for (size_t i = 2; i + 1 < bytes.size() && !sof; ++i)
      if (bytes[i] == 0xff && bytes[i + 1] == 0xc0) sof = i;
    REQUIRE(sof > 0);
    for (size_t at : {sof + 5, sof + 7}) {  // 60000 = 0xEA60
      bytes[at] = 0xea;
      bytes[at + 1] = 0x60;
    }
    write_bytes(file, bytes);
    CHECK_THAT(data_error_of([&] { decode_image(file.string(), 3); }),
               Catch::Contains("huge.jpg") && Catch::Contains("60000 x 60000 pixels"));
  }
}
