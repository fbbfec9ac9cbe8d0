#pragma once
// Writing PNG and JPEG files with libpng and libjpeg, for the tests of the image readers and of
// image folders.
#include <catch2/catch.hpp>
#include <jpeglib.h>
#include <png.h>

#include <cstdio>
#include <filesystem>
#include <vector>

namespace mt::testing {

// `pixels` interleaved [H, W, channels of `color_type`]; palette images pass indices.
inline void write_png(const std::filesystem::path& file, int h, int w, int color_type, const std::vector<uint8_t>& pixels,
               const std::vector<png_color>& palette = {}) {
  FILE* f = std::fopen(file.c_str(), "wb");
  REQUIRE(f);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, f);
  png_set_IHDR(png, info, w, h, 8, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!palette.empty()) png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  png_write_info(png, info);
  const size_t row = pixels.size() / h;
  for (int y = 0; y < h; ++y) png_write_row(png, pixels.data() + y * row);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

inline void write_jpeg(const std::filesystem::path& file, int h, int w, int channels, const std::vector<uint8_t>& pixels) {
  FILE* f = std::fopen(file.c_str(), "wb");
  REQUIRE(f);
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = channels;
  cinfo.in_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 100, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels.data()) + cinfo.next_scanline * w * channels;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::fclose(f);
}

}  // namespace mt::testing
