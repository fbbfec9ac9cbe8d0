// Image folders of PNG and JPEG files written here with libpng and libjpeg: decoding (RGB, gray,
// palette, alpha), the resampler on hand-computed values, class ids from sorted folder names, and
// every rejection (corrupt, truncated, not an image, empty class) naming the file.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "tests/trainers/image_files.h"
#include "trainers/image_codec.h"
#include "trainers/image_folder.h"
#include "trainers/image_resize.h"

using namespace mt;
using mt::testing::write_jpeg;
using mt::testing::write_png;
namespace fs = std::filesystem;

namespace {
fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("mt_imgfolder_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<uint8_t> flat(int h, int w, std::vector<uint8_t> color) {
  std::vector<uint8_t> p;
  for (int i = 0; i < h * w; ++i) p.insert(p.end(), color.begin(), color.end());
  return p;
}

// A distinct value per (y, x, c): [H, W, 3].
std::vector<uint8_t> ramp(int h, int w) {
  std::vector<uint8_t> p;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) p.push_back(static_cast<uint8_t>(100 * c + 10 * y + x));
  return p;
}

std::string data_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "no DataError";
}
}  // namespace

TEST_CASE("PNG decodes RGB, gray, palette and alpha to the requested channels", "[data]") {
  const fs::path dir = fresh_dir("png");
  write_png(dir / "rgb.png", 3, 4, PNG_COLOR_TYPE_RGB, ramp(3, 4));
  const Image rgb = decode_image((dir / "rgb.png").string(), 3);
  CHECK(rgb.height == 3);
  CHECK(rgb.width == 4);
  CHECK(rgb.pixels == ramp(3, 4));
  // 601 luma in 16-bit fixed point: pure red -> 76, pure green -> 150, blue -> 29.
  write_png(dir / "prim.png", 1, 3, PNG_COLOR_TYPE_RGB, {255, 0, 0, 0, 255, 0, 0, 0, 255});
  CHECK(decode_image((dir / "prim.png").string(), 1).pixels == std::vector<uint8_t>{76, 150, 29});
  write_png(dir / "gray.png", 1, 2, PNG_COLOR_TYPE_GRAY, {7, 200});
  CHECK(decode_image((dir / "gray.png").string(), 3).pixels == std::vector<uint8_t>{7, 7, 7, 200, 200, 200});
  CHECK(decode_image((dir / "gray.png").string(), 1).pixels == std::vector<uint8_t>{7, 200});
  write_png(dir / "rgba.png", 1, 2, PNG_COLOR_TYPE_RGBA, {1, 2, 3, 0, 4, 5, 6, 255});
  CHECK(decode_image((dir / "rgba.png").string(), 3).pixels == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
  write_png(dir / "pal.png", 1, 3, PNG_COLOR_TYPE_PALETTE, {1, 0, 1}, {{10, 20, 30}, {40, 50, 60}});
  CHECK(decode_image((dir / "pal.png").string(), 3).pixels == std::vector<uint8_t>{40, 50, 60, 10, 20, 30, 40, 50, 60});
  fs::remove_all(dir);
}

TEST_CASE("JPEG decodes colour and gray within compression error", "[data]") {
  const fs::path dir = fresh_dir("jpeg");
  write_jpeg(dir / "c.jpg", 16, 16, 3, flat(16, 16, {200, 40, 90}));
  const Image c = decode_image((dir / "c.jpg").string(), 3);
  REQUIRE(c.pixels.size() == 16 * 16 * 3);
  for (size_t i = 0; i < c.pixels.size(); ++i) CHECK(std::abs(c.pixels[i] - std::vector<int>{200, 40, 90}[i % 3]) <= 3);
  write_jpeg(dir / "g.jpeg", 8, 8, 1, flat(8, 8, {123}));
  const Image g = decode_image((dir / "g.jpeg").string(), 3);
  REQUIRE(g.channels == 3);
  for (uint8_t v : g.pixels) CHECK(std::abs(v - 123) <= 1);
  fs::remove_all(dir);
}

TEST_CASE("resize_center_crop matches hand-computed bilinear weights", "[data]") {
  SECTION("same size is the identity") {
    Image im{3, 3, 3, ramp(3, 3)};
    const std::vector<uint8_t> out = resize_center_crop(im, 3);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 3; ++x) CHECK(out[(c * 3 + y) * 3 + x] == 100 * c + 10 * y + x);
  }
  SECTION("a wide image keeps its centre columns; crop offset rounds half to even") {
    Image im{4, 6, 3, ramp(4, 6)};  // 6 - 4 = 2 spare columns: crop starts at column 1
    const std::vector<uint8_t> out = resize_center_crop(im, 4);
    CHECK(out[0] == 1);
    CHECK(out[3] == 4);
    CHECK(out[(2 * 4 + 3) * 4 + 3] == 200 + 30 + 4);
    Image odd{3, 6, 3, ramp(3, 6)};  // 3 spare columns: round(1.5) = 2
    CHECK(resize_center_crop(odd, 3)[0] == 2);
    Image tall{5, 3, 3, ramp(5, 3)};  // 2 spare rows: crop starts at row 1
    CHECK(resize_center_crop(tall, 3)[0] == 10);
  }
  SECTION("halving averages with the widened triangle") {
    // Columns 0, 40, 80, 120. Output 0 (centre 1.0, half-width 2) weights inputs 0..2 by
    // .75, .75, .25 (renormalised): 50 / 1.75 = 28.57; output 1 (centre 3.0): inputs 1..3 by
    // .25, .75, .75: 160 / 1.75 = 91.43.
    Image im{4, 4, 1, {}};
    for (int y = 0; y < 4; ++y)
      for (uint8_t v : {0, 40, 80, 120}) im.pixels.push_back(v);
    CHECK(resize_center_crop(im, 2) == std::vector<uint8_t>{29, 91, 29, 91});
  }
  SECTION("doubling interpolates linearly between pixel centres") {
    Image im{2, 2, 1, {0, 100, 0, 100}};
    const std::vector<uint8_t> out = resize_center_crop(im, 4);
    CHECK(std::vector<uint8_t>(out.begin(), out.begin() + 4) == std::vector<uint8_t>{0, 25, 75, 100});
    CHECK(std::vector<uint8_t>(out.begin() + 12, out.end()) == std::vector<uint8_t>{0, 25, 75, 100});
  }
  SECTION("a non-square size: scaled to cover it, then the centre cropped") {
    // 40 x 30 to [10, 30]: the width already fits (no resampling), the centre 10 rows stay.
    Image im{40, 30, 3, ramp(40, 30)};
    const std::vector<uint8_t> out = resize_center_crop(im, 10, 30);
    REQUIRE(out.size() == 3u * 10 * 30);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 10; ++y)
        for (int x = 0; x < 30; ++x) CHECK(out[(c * 10 + y) * 30 + x] == im.pixels[((y + 15) * 30 + x) * 3 + c]);
    // A square size is the single-number form.
    Image sq{37, 53, 3, ramp(37, 53)};
    CHECK(resize_center_crop(sq, 5, 5) == resize_center_crop(sq, 5));
  }
  SECTION("a flat image stays flat through a large shrink") {
    Image im{37, 53, 3, flat(37, 53, {9, 99, 199})};
    const std::vector<uint8_t> out = resize_center_crop(im, 5);
    for (size_t i = 0; i < out.size(); ++i) CHECK(out[i] == std::vector<int>{9, 99, 199}[i / 25]);
  }
}

TEST_CASE("load_image_folder: sorted class folders, nested files, other files ignored", "[data]") {
  const fs::path dir = fresh_dir("folder");
  fs::create_directories(dir / "zebra" / "nested");
  fs::create_directories(dir / "ant");
  fs::create_directories(dir / ".cache");
  write_png(dir / "zebra" / "b.png", 8, 8, PNG_COLOR_TYPE_RGB, flat(8, 8, {10, 20, 30}));
  write_jpeg(dir / "zebra" / "nested" / "a.JPG", 16, 8, 3, flat(16, 8, {250, 128, 0}));
  write_png(dir / "ant" / "x.png", 4, 4, PNG_COLOR_TYPE_GRAY, flat(4, 4, {77}));
  write_png(dir / ".cache" / "y.png", 4, 4, PNG_COLOR_TYPE_GRAY, flat(4, 4, {1}));
  std::ofstream(dir / "ant" / "notes.txt") << "not an image";
  std::ofstream(dir / "top_level_file.png") << "ignored: not in a class folder";

  std::vector<std::string> names;
  const Dataset d = load_image_folder(dir.string(), {4, 3}, &names);
  CHECK(names == std::vector<std::string>{"ant", "zebra"});
  CHECK(d.num_classes == 2);
  CHECK(d.sample == Shape({3, 4, 4}));
  REQUIRE(d.labels == std::vector<int64_t>{0, 1, 1});
  REQUIRE(d.pixels.size() == 3 * 48);
  CHECK(d.pixels[0] == 77);
  CHECK(d.pixels[47] == 77);
  // zebra: paths sort by component, so "b.png" comes before "nested/a.JPG"
  CHECK(d.pixels[48] == 10);
  CHECK(d.pixels[48 + 16] == 20);
  CHECK(d.pixels[48 + 47] == 30);
  CHECK(std::abs(d.pixels[96] - 250) <= 3);
  CHECK(std::abs(d.pixels[96 + 16] - 128) <= 3);
  CHECK(std::abs(d.pixels[96 + 32] - 0) <= 3);

  const Dataset wide = load_image_folder(dir.string(), {.size = 2, .channels = 3, .width = 6});
  CHECK(wide.sample == Shape({3, 2, 6}));
  CHECK(wide.pixels.size() == 3u * 36);
  CHECK(wide.pixels[0] == 77);

  const Dataset gray = load_image_folder(dir.string(), {2, 1});
  CHECK(gray.sample == Shape({1, 2, 2}));
  CHECK(gray.pixels[0] == 77);
  CHECK(gray.pixels[4] == (10 * 19595 + 20 * 38470 + 30 * 7471 + 0x8000) >> 16);
  fs::remove_all(dir);
}

TEST_CASE("load_image_folder rejects corrupt images and bad layouts, naming the culprit", "[data]") {
  const fs::path dir = fresh_dir("bad");
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  write_png(dir / "a" / "good.png", 6, 6, PNG_COLOR_TYPE_RGB, ramp(6, 6));
  write_jpeg(dir / "b" / "good.jpg", 32, 32, 3, ramp(32, 32));
  CHECK(load_image_folder(dir.string(), {4, 3}).size() == 2);

  auto load = [&] { load_image_folder(dir.string(), {4, 3}); };
  auto truncate = [](const fs::path& from, const fs::path& to, double keep) {
    fs::copy_file(from, to);
    fs::resize_file(to, static_cast<uintmax_t>(fs::file_size(from) * keep));
  };
  SECTION("truncated PNG") {
    truncate(dir / "a" / "good.png", dir / "a" / "cut.png", 0.6);
    CHECK_THAT(data_error_of(load), Catch::Contains("cut.png") && Catch::Contains("cannot decode"));
  }
  SECTION("PNG with a corrupt body") {
    std::vector<char> bytes(fs::file_size(dir / "a" / "good.png"));
    std::ifstream(dir / "a" / "good.png", std::ios::binary).read(bytes.data(), bytes.size());
    for (size_t i = 16; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 37);
    std::ofstream(dir / "a" / "bad.png", std::ios::binary).write(bytes.data(), bytes.size());
    CHECK_THAT(data_error_of(load), Catch::Contains("bad.png"));
  }
  SECTION("truncated JPEG") {
    truncate(dir / "b" / "good.jpg", dir / "b" / "cut.jpg", 0.5);
    CHECK_THAT(data_error_of(load), Catch::Contains("cut.jpg") && Catch::Contains("cannot decode"));
  }
  SECTION("JPEG signature with garbage after it") {
    std::ofstream(dir / "b" / "junk.jpeg", std::ios::binary) << "\xff\xd8\xff" << std::string(200, 'x');
    CHECK_THAT(data_error_of(load), Catch::Contains("junk.jpeg"));
  }
  SECTION("a text file named .png") {
    std::ofstream(dir / "a" / "text.png") << "hello";
    CHECK_THAT(data_error_of(load), Catch::Contains("text.png") && Catch::Contains("neither a PNG nor a JPEG"));
  }
  SECTION("an empty file") {
    std::ofstream(dir / "a" / "empty.jpg");
    CHECK_THAT(data_error_of(load), Catch::Contains("empty.jpg"));
  }
  SECTION("a class folder without images") {
    fs::create_directories(dir / "c");
    std::ofstream(dir / "c" / "readme.md") << "no images";
    CHECK_THAT(data_error_of(load), Catch::Contains((dir / "c").string()) && Catch::Contains("no .png"));
  }
  SECTION("no class folders, or no folder at all") {
    const fs::path empty = fresh_dir("empty");
    CHECK_THAT(data_error_of([&] { load_image_folder(empty.string(), {4, 3}); }), Catch::Contains("no class sub-folders"));
    fs::remove_all(empty);
    CHECK_THAT(data_error_of([&] { load_image_folder(empty.string(), {4, 3}); }), Catch::Contains("does not exist"));
  }
  fs::remove_all(dir);
}
