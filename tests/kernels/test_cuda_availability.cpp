// Asking for the CUDA backend by name, on every machine: with a GPU it constructs; without one, or
// in a build without CUDA, it fails with a BackendError that says why and what to do. (The GPU
// backend's own tests live in tests/cuda and skip where no GPU is visible.)
#include <catch2/catch.hpp>

#include "kernels/backends.h"
#ifdef MORPHTRAIN_HAVE_CUDA
#include "kernels/cuda/cuda_context.h"
#endif

namespace mt {

#ifdef MORPHTRAIN_HAVE_CUDA

TEST_CASE("make_backend(cuda) constructs where a GPU is visible, else says there is none",
          "[cuda][backend]") {
  if (cuda::device_count() == 0) {
    INFO("no GPU here (" << cuda::no_device_reason() << "): the error must say so");
    CHECK_THROWS_AS(make_backend("cuda"), BackendError);
    CHECK_THROWS_WITH(make_backend("cuda"), Catch::Contains("no CUDA GPU is visible"));
  } else {
    const auto backend = make_backend("cuda");
    CHECK(backend->name() == "cuda");
    CHECK(backend->activation_layout() == Layout::nhwc);
    CHECK(backend->device().kind == DeviceKind::cuda);
  }
}

#else

TEST_CASE("make_backend(cuda) in a build without CUDA names the option to turn it on",
          "[cuda][backend]") {
  CHECK_THROWS_AS(make_backend("cuda"), BackendError);
  CHECK_THROWS_WITH(make_backend("cuda"), Catch::Contains("MORPHTRAIN_CUDA"));
}

#endif

}  // namespace mt
