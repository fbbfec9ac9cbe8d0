#include "trainers/image_codec.h"

// libpng and libjpeg report errors by longjmp. The decoders below are therefore written C-style:
// no object with a destructor lives in a frame that a longjmp can skip, and the error text travels
// out in a plain buffer; only the C++ caller turns it into an exception.
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include "core/checked_size.h"
#include "core/error.h"

namespace mt {

namespace {
constexpr size_t kMessage = 256;
// Width and height come from the file's header: a corrupt or hostile one promises gigapixels, and
// the decoder would try to allocate them. No training image comes near 1 GiB decoded.
constexpr size_t kMaxDecodedBytes = size_t{1} << 30;

// Whether height x width x channels is a size worth allocating; else writes why into `message`.
bool decoded_size_ok(int64_t height, int64_t width, int64_t channels, char* message) {
  const std::optional<size_t> bytes = checked_product({height, width, channels});
  if (bytes && *bytes <= kMaxDecodedBytes) return true;
  std::snprintf(message, kMessage,
                "its header promises %lld x %lld pixels x %lld channels, more than %zu bytes decoded",
                static_cast<long long>(height), static_cast<long long>(width), static_cast<long long>(channels),
                kMaxDecodedBytes);
  return false;
}

// ---- PNG ----
struct PngSource {
  const uint8_t* data;
  size_t size, pos;
  char message[kMessage];
};

void png_read_memory(png_structp png, png_bytep out, size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > src->size - src->pos) png_error(png, "file truncated: read past its end");
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}
void png_on_error(png_structp png, png_const_charp msg) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, kMessage, "%s", msg);
  png_longjmp(png, 1);
}
void png_on_warning(png_structp, png_const_charp) {}  // ancillary-chunk trouble: the pixels are fine

// Returns false with `message` set on any libpng error. `rows` is the caller's so that nothing here
// owns memory a longjmp would leak.
bool decode_png(const std::vector<uint8_t>& bytes, Image& out, std::vector<png_bytep>& rows, char* message) {
  PngSource src{bytes.data(), bytes.size(), 0, {}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_read_struct(png ? &png : nullptr, nullptr, nullptr);
    std::snprintf(message, kMessage, "libpng could not allocate its state");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::snprintf(message, kMessage, "%s", src.message);
    return false;
  }
  png_set_read_fn(png, &src, png_read_memory);
  png_read_info(png, info);
  // Palette and low-bit gray to 8 bits, 16 bits down to 8, alpha dropped: gray or RGB remains.
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out.height = png_get_image_height(png, info);
  out.width = png_get_image_width(png, info);
  out.channels = png_get_channels(png, info);
  if (!decoded_size_ok(out.height, out.width, out.channels, message)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  out.pixels.resize(static_cast<size_t>(out.height * out.width * out.channels));
  rows.resize(static_cast<size_t>(out.height));
  for (int64_t y = 0; y < out.height; ++y) rows[y] = out.pixels.data() + y * out.width * out.channels;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

// ---- JPEG ----
struct JpegErrors {
  jpeg_error_mgr mgr;  // first: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_on_error(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}
// libjpeg only warns on a truncated file and pads it with gray; a silently gray image is a data bug,
// so that warning is an error. Other warnings (extraneous bytes, say) leave the pixels intact.
void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_on_error(cinfo);
}

bool decode_jpeg(const std::vector<uint8_t>& bytes, Image& out, char* message) {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = jpeg_on_error;
  errors.mgr.emit_message = jpeg_on_message;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(message, kMessage, "%s", errors.message);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(message, kMessage, "CMYK JPEG is not supported (convert it to RGB)");
    return false;
  }
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  // Checked from the header, before jpeg_start_decompress allocates: a progressive (multi-scan)
  // file makes libjpeg hold every DCT coefficient of the image, 2 bytes per sample, which a
  // 170-byte hostile header can size past any RSS (found by tests/fuzz). libjpeg's own memory is
  // capped too, as a backstop: past it, it fails instead of allocating.
  const int64_t samples_per_pixel = jpeg_has_multiple_scans(&cinfo) ? 2 * cinfo.num_components : cinfo.num_components;
  if (!decoded_size_ok(cinfo.image_height, cinfo.image_width, samples_per_pixel, message)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.mem->max_memory_to_use = static_cast<long>(kMaxDecodedBytes);
  jpeg_start_decompress(&cinfo);
  out.height = cinfo.output_height;
  out.width = cinfo.output_width;
  out.channels = cinfo.output_components;
  if (!decoded_size_ok(out.height, out.width, out.channels, message)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  out.pixels.resize(static_cast<size_t>(out.height * out.width * out.channels));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out.pixels.data() + static_cast<int64_t>(cinfo.output_scanline) * out.width * out.channels;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MT_CHECK(in, DataError, "cannot open image '", path, "': ", std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  MT_CHECK(!in.bad(), DataError, "cannot read image '", path, "': ", std::strerror(errno));
  return bytes;
}

bool starts_with(const std::vector<uint8_t>& bytes, std::initializer_list<uint8_t> magic) {
  return bytes.size() >= magic.size() && std::equal(magic.begin(), magic.end(), bytes.begin());
}
}  // namespace

Image decode_image(const std::string& path, int channels) {
  MT_CHECK(channels == 1 || channels == 3, ConfigError, "image channels must be 1 or 3, got ", channels);
  const std::vector<uint8_t> bytes = read_file(path);
  Image image;
  char message[kMessage] = {};
  bool ok = false;
  if (starts_with(bytes, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'})) {
    std::vector<png_bytep> rows;
    ok = decode_png(bytes, image, rows, message);
  } else if (starts_with(bytes, {0xff, 0xd8, 0xff})) {
    ok = decode_jpeg(bytes, image, message);
  } else {
    MT_FAIL(DataError, "'", path, "' (", bytes.size(), " bytes) is neither a PNG nor a JPEG file");
  }
  MT_CHECK(ok, DataError, "cannot decode image '", path, "': ", message);
  MT_CHECK(image.height > 0 && image.width > 0 && (image.channels == 1 || image.channels == 3), DataError,
           "image '", path, "' decoded to ", image.height, "x", image.width, "x", image.channels,
           " pixels; expected gray or RGB");
  return convert_channels(std::move(image), channels);
}

Image convert_channels(Image image, int channels) {
  if (image.channels == channels) return image;
  const int64_t n = image.height * image.width;
  Image out{image.height, image.width, channels, std::vector<uint8_t>(static_cast<size_t>(n * channels))};
  const uint8_t* src = image.pixels.data();
  for (int64_t p = 0; p < n; ++p) {
    if (channels == 1) {
      // ITU-R 601 luma in 16-bit fixed point, rounded: PIL's convert("L") exactly.
      const uint32_t r = src[3 * p], g = src[3 * p + 1], b = src[3 * p + 2];
      out.pixels[p] = static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
    } else {
      out.pixels[3 * p] = out.pixels[3 * p + 1] = out.pixels[3 * p + 2] = src[p];
    }
  }
  return out;
}

}  // namespace mt
