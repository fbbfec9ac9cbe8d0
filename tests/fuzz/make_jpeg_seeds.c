/* The JPEG seeds of the image harness (corpus/image/seed_*.jpg), written by libjpeg:
 *   cc make_jpeg_seeds.c -ljpeg -o /tmp/make_jpeg_seeds && /tmp/make_jpeg_seeds corpus/image */
#include <stdio.h>
#include <jpeglib.h>

static void write_jpeg(const char* path, int w, int h, int channels, int progressive) {
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr err;
  unsigned char row[3 * 8];
  FILE* f = fopen(path, "wb");
  if (!f) return;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, f);
  c.image_width = w;
  c.image_height = h;
  c.input_components = channels;
  c.in_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 90, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    for (int i = 0; i < w * channels; ++i) row[i] = (unsigned char)(i * 40 + c.next_scanline * 60);
    JSAMPROW rows[1] = {row};
    jpeg_write_scanlines(&c, rows, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  fclose(f);
}

int main(int argc, char** argv) {
  char path[4096];
  const char* dir = argc > 1 ? argv[1] : ".";
  snprintf(path, sizeof path, "%s/seed_gray.jpg", dir);
  write_jpeg(path, 4, 3, 1, 0);
  snprintf(path, sizeof path, "%s/seed_rgb.jpg", dir);
  write_jpeg(path, 5, 4, 3, 0);
  snprintf(path, sizeof path, "%s/seed_progressive.jpg", dir);
  write_jpeg(path, 8, 8, 3, 1);
  return 0;
}
