// The morphtrain command end to end: exit codes, messages and a short real training run.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>

namespace {

struct Result {
  int exit_code;
  std::string output;
};

Result run(const std::string& args) {
  const char* dir = std::getenv("MORPHTRAIN_BUILD_DIR");
  REQUIRE(dir);  // ctest sets it
  const std::string cmd = std::string(dir) + "/tools/morphtrain " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

std::filesystem::path temp_root(const std::string& tag) {
  return std::filesystem::temp_directory_path() / ("mt_cli_" + tag + "_" + std::to_string(::getpid()));
}

TEST_CASE("a bad config exits 2 with the file, line and key", "[cli]") {
  const auto path = std::filesystem::temp_directory_path() / ("mt_cli_" + std::to_string(::getpid()) + ".yaml");
  const auto root = temp_root("bad");
  std::ofstream(path) << "output:\n  root: " << root.string() << "\ntrain:\n  epochs: 1\n  batchsize: 64\n";
  const Result r = run("--config " + path.string());
  std::filesystem::remove(path);
  CHECK_FALSE(std::filesystem::exists(root));  // nothing is created for a run that never starts
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains(":5:3: unknown key 'train.batchsize'") &&
                           Catch::Contains("did you mean 'train.batch_size'"));
  CHECK(run("--config configs/resnet20_fmnist.yaml --set optim.lr=-1").exit_code == 2);
}

TEST_CASE("a missing data folder exits 1 naming it", "[cli]") {
  const auto root = temp_root("nodata");
  const Result r = run("--config configs/resnet20_fmnist.yaml --set data.path=/nonexistent --set output.root=" + root.string());
  CHECK_FALSE(std::filesystem::exists(root));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("/nonexistent") && Catch::Contains("train-images-idx3-ubyte"));
}

TEST_CASE("morphtrain trains ResNet-8 on learnable synthetic data", "[cli][train]") {
  const auto root = temp_root("train");
  const Result r = run(
      "--config configs/resnet20_fmnist.yaml --set output.root=" + root.string() + " --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic "
      "--set data.synthetic_size=512 --set data.mean=[0.5] --set data.std=[0.25] --set train.batch_size=32 "
      "--set train.epochs=3 --set train.log_every=10 --set schedule.warmup_steps=5 --set optim.lr=0.05");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // The synthetic classes differ in brightness: a model that trains beats chance (10%) clearly.
  const auto at = r.output.find("final test accuracy ");
  REQUIRE(at != std::string::npos);
  CHECK(std::stod(r.output.substr(at + 20)) > 50.0);
  // One run directory, holding the resolved config.
  const auto runs = root / "resnet20_fmnist";
  REQUIRE(std::filesystem::is_directory(runs));
  const auto dir = *std::filesystem::directory_iterator(runs);
  CHECK(std::filesystem::exists(dir.path() / "config.yaml"));
  std::filesystem::remove_all(root);
}

TEST_CASE("the summary and help-config flags print without training", "[cli]") {
  Result r = run("--config configs/resnet20_fmnist.yaml --summary");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("total parameters: 269,434"));
  r = run("--help-config");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("optim.lr (default 0.05)"));
}

TEST_CASE("a diverging run stops naming the step, or skips such steps when asked", "[cli][train]") {
  const auto root = temp_root("nan");
  const std::string base =
      "--config configs/resnet20_fmnist.yaml --set output.root=" + root.string() +
      " --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic"
      " --set data.synthetic_size=256 --set data.mean=[0.5] --set data.std=[0.25]"
      " --set train.batch_size=32 --set debug.inject_nonfinite_at_step=3";
  Result r = run(base);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("gradient norm is not finite at step 3"));
  r = run(base + " --set train.on_nonfinite=skip_step");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("skipped 1 steps"));
  std::filesystem::remove_all(root);
}
