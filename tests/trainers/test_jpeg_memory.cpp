// A progressive JPEG whose 171-byte header sizes libjpeg's coefficient buffers past 2 GiB (a
// tests/fuzz finding) is a DataError from its header, before libjpeg allocates anything.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include "core/error.h"
#include "trainers/image_codec.h"

TEST_CASE("a progressive JPEG promising gigabytes of coefficients is refused from its header", "[data]") {
  const std::string file = "tests/fuzz/corpus/image/finding_progressive_oom.jpg";  // ctest runs in the source dir
  // 51536 x 19976 x 3 samples: refused before libjpeg's 6 GB of coefficient buffers are touched,
  // so the process's peak resident memory barely moves.
  auto peak_mb = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024;  // KiB on Linux
  };
  const long before = peak_mb();
  for (int channels : {1, 3}) {
    CHECK_THROWS_AS(mt::decode_image(file, channels), mt::DataError);
    CHECK_THROWS_WITH(mt::decode_image(file, channels),
                      Catch::Contains("finding_progressive_oom.jpg") && Catch::Contains("its header promises"));
  }
  CHECK(peak_mb() - before < 256);
}
