// The config's `device` key: what it accepts, and the error a run gets on a machine or build
// without the GPU it asks for (this suite runs on machines without one).
#include <catch2/catch.hpp>

#include <fstream>

#include "temp_dir.h"
#include "tools/training_phase.h"
#ifdef MORPHTRAIN_HAVE_CUDA
#include "kernels/cuda/cuda_context.h"
#endif

using namespace mt;

namespace {
tools::Config config_with_device(const testing::TempDir& dir, const std::string& device) {
  const std::string path = (dir.path / "c.yaml").string();
  std::ofstream(path) << "device: \"" << device << "\"\n";
  return tools::Config::load(path);
}
}  // namespace

TEST_CASE("device: cpu, cuda and cuda:N parse; anything else is a ConfigError naming the key", "[tools][device]") {
  testing::TempDir dir("device_config");
  CHECK(tools::configured_device(config_with_device(dir, "cpu")) == Device::cpu());
  CHECK(tools::configured_device(config_with_device(dir, "cuda")) == Device::cuda(0));
  CHECK(tools::configured_device(config_with_device(dir, "cuda:3")) == Device::cuda(3));
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:1x", "CPU", "cuda:123456"})
    CHECK_THROWS_WITH(tools::configured_device(config_with_device(dir, bad)),
                      Catch::Contains("device: '" + std::string(bad) + "'") && Catch::Contains("cuda:N"));
  CHECK(tools::configured_backend(config_with_device(dir, "cpu")).name() == "cpu");
}

TEST_CASE("device: cuda without a usable GPU fails with an error that says why", "[tools][device]") {
  testing::TempDir dir("device_config");
  const tools::Config config = config_with_device(dir, "cuda");
#ifdef MORPHTRAIN_HAVE_CUDA
  if (cuda::device_count() > 0) {
    CHECK(tools::configured_backend(config).name() == "cuda");
    return;
  }
  CHECK_THROWS_AS(tools::configured_backend(config), BackendError);
  CHECK_THROWS_WITH(tools::configured_backend(config),
                    Catch::Contains("no CUDA GPU is visible") && Catch::Contains("device: cpu"));
#else
  CHECK_THROWS_WITH(tools::configured_backend(config), Catch::Contains("MORPHTRAIN_CUDA"));
#endif
}
