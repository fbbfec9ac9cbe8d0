// The config's `device` key: what it accepts, and the error a run gets on a machine or build
// without the GPU it asks for (this suite runs on machines without one).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "temp_dir.h"
#include "tools/training_phase.h"
#include "trainers/communicator.h"
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

namespace {
// Sets environment variables for a scope (as a launcher would) and restores them after.
class ScopedEnv {
 public:
  ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const auto& [name, value] : vars) {
      const char* old = std::getenv(name);
      saved_.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
      ::setenv(name, value, 1);
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, old] : saved_) {
      if (old) ::setenv(name.c_str(), old->c_str(), 1);
      else ::unsetenv(name.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};
}  // namespace

TEST_CASE("the launcher's local rank: Open MPI, MPICH and Slurm spellings", "[tools][device]") {
  {
    ScopedEnv env{{"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}};
    CHECK(launched_local_placement().rank == 1);
    CHECK(launched_local_placement().size == 4);
  }
  {
    ScopedEnv env{{"MPI_LOCALRANKID", "2"}, {"MPI_LOCALNRANKS", "3"}};
    CHECK(launched_local_placement().rank == 2);
    CHECK(launched_local_placement().size == 3);
  }
  {
    ScopedEnv env{{"SLURM_LOCALID", "5"}};
    CHECK(launched_local_placement().rank == 5);
    CHECK(launched_local_placement().size == 0);  // Slurm does not say how many share the machine
  }
  {
    ScopedEnv env{{"OMPI_COMM_WORLD_LOCAL_RANK", "one"}};  // not a number: not a launcher's
    CHECK(launched_local_placement().rank == 0);
    CHECK(launched_local_placement().size == 1);
  }
}

TEST_CASE("under a launcher, device: cuda is the GPU of the local rank and cuda:N is refused", "[tools][device]") {
  testing::TempDir dir("device_config");
  ScopedEnv env{{"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}};
  CHECK(tools::configured_device(config_with_device(dir, "cpu")) == Device::cpu());
  CHECK(tools::configured_device(config_with_device(dir, "cuda")) == Device::cuda(1));
  CHECK_THROWS_AS(tools::configured_device(config_with_device(dir, "cuda:0")), ConfigError);
  CHECK_THROWS_WITH(tools::configured_device(config_with_device(dir, "cuda:0")),
                    Catch::Contains("all 2 processes") && Catch::Contains("use device: cuda"));
#ifdef MORPHTRAIN_HAVE_CUDA
  if (cuda::device_count() > 1) return;  // local rank 1 has its GPU
#endif
  // The GPU of local rank 1 is missing (no GPU here, or no CUDA build): the error says why it was asked for.
  CHECK_THROWS_AS(tools::configured_backend(config_with_device(dir, "cuda")), ConfigError);
  CHECK_THROWS_WITH(tools::configured_backend(config_with_device(dir, "cuda")),
                    Catch::Contains("local rank 1") && Catch::Contains("cuda:1"));
}
