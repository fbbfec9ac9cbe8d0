// The pieces of data-parallel training that need no second process: sharded loading (the shards
// of a step hold exactly the samples, augmented alike, of one unsharded batch), the
// single-process communicator and its helpers, the launcher detection, and the watchdog that
// ends a process stuck in a collective.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "core/random.h"
#include "kernels/backends.h"
#include "trainers/collective_watchdog.h"
#include "trainers/communicator.h"
#include "trainers/loader.h"
#include "trainers/sgd.h"
#include "trainers/trainer.h"
#include "tests/trainers/banded_data.h"

using namespace mt;

namespace {

std::vector<float> epoch_images(const Dataset& data, LoaderOptions o, int64_t epoch) {
  BatchLoader loader(data, Normalization{{0.3}, {0.3}}, o);
  loader.start_epoch(epoch);
  std::vector<float> out;
  while (const Batch* b = loader.next()) {
    const float* p = b->images.data<float>();
    out.insert(out.end(), p, p + b->images.numel());
  }
  return out;
}

// Environment variables set for one test and restored after it.
struct ScopedEnv {
  std::string name;
  ScopedEnv(const char* n, const char* value) : name(n) { ::setenv(n, value, 1); }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("sharded loaders together yield exactly the unsharded batches, augmentation included", "[data][distributed]") {
  const Dataset data = testing::banded(50, 3);
  LoaderOptions whole;
  whole.batch_size = 8;
  whole.seed = 9;
  whole.augment.pad = 2;
  whole.augment.hflip = true;
  for (int shards : {2, 4}) {
    INFO(shards << " shards");
    const std::vector<float> all = epoch_images(data, whole, 1);  // 6 batches of 8
    const int64_t per_sample = data.sample.numel(), bs = whole.batch_size / shards;
    std::vector<std::vector<float>> parts;
    for (int r = 0; r < shards; ++r) {
      LoaderOptions o = whole;
      o.batch_size = bs;
      o.shard = r;
      o.shards = shards;
      parts.push_back(epoch_images(data, o, 1));
      REQUIRE(parts.back().size() == all.size() / shards);
    }
    // Global batch s is shard 0's batch s, then shard 1's, ...
    std::vector<float> joined;
    for (size_t s = 0; s < all.size() / (whole.batch_size * per_sample); ++s)
      for (int r = 0; r < shards; ++r)
        joined.insert(joined.end(), parts[r].begin() + s * bs * per_sample, parts[r].begin() + (s + 1) * bs * per_sample);
    CHECK(joined == all);
  }
}

TEST_CASE("a sharded loader refuses a bad shard and a partial last batch", "[data][distributed]") {
  const Dataset data = testing::banded(20, 3);
  LoaderOptions o;
  o.batch_size = 4;
  o.shards = 2;
  o.shard = 2;
  CHECK_THROWS_AS(BatchLoader(data, Normalization{{0.3}, {0.3}}, o), ConfigError);
  o.shard = 1;
  o.drop_last = false;
  CHECK_THROWS_AS(BatchLoader(data, Normalization{{0.3}, {0.3}}, o), ConfigError);
  o.drop_last = true;
  o.batch_size = 12;  // 2 x 12 > 20 samples
  CHECK_THROWS_WITH(BatchLoader(data, Normalization{{0.3}, {0.3}}, o), Catch::Contains("batch size x shards"));
}

TEST_CASE("the single-process communicator: rank 0 of 1, every collective a no-op", "[distributed]") {
  Communicator& one = single_process();
  CHECK(one.rank() == 0);
  CHECK(one.size() == 1);
  CHECK(one.is_root());
  float v[3] = {1, 2, 3};
  one.allreduce_sum(v, 3);
  CHECK(v[2] == 3);
  CHECK(broadcast_string(one, "mine") == "mine");
  NamedTensors named{{"a", Tensor::zeros({2})}};
  broadcast_named_tensors(one, named);
  CHECK(named.size() == 1);
}

TEST_CASE("the launcher is detected from its environment", "[distributed]") {
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  ::unsetenv("PMI_SIZE");
  ::unsetenv("PMIX_SIZE");
  CHECK(launched_world_size() == 1);
  CHECK(make_communicator()->name() == "single");
  {
    ScopedEnv env("PMI_SIZE", "4");
    CHECK(launched_world_size() == 4);
  }
  ScopedEnv env("OMPI_COMM_WORLD_SIZE", "1");  // mpirun -np 1: no MPI needed
  CHECK(make_communicator()->size() == 1);
}

TEST_CASE("a trainer over the single-process communicator trains as one without it", "[distributed][trainer]") {
  const Dataset train = testing::banded(48, 1);
  const OptimizerFactory sgd = mt::testing::sgd_factory();
  LrScheduleConfig lc;
  lc.base_lr = 0.05;
  const LrSchedule lr(lc);
  TrainOptions t;
  t.batch_size = 8;
  t.seed = 4;
  layers::ModelOptions mo = testing::banded_resnet_options();
  layers::Model a = layers::build_model("resnet_cifar", mo), b = layers::build_model("resnet_cifar", mo);
  Trainer plain(a, backend_for(Device::cpu()), sgd, lr, t, Normalization{{0.3}, {0.3}});
  Trainer single(b, backend_for(Device::cpu()), sgd, lr, t, Normalization{{0.3}, {0.3}});
  single.set_distributed(single_process(), DataParallelOptions{1024, true, 1});
  plain.fit(train, nullptr);
  single.fit(train, nullptr);
  const auto sa = a.graph.state_dict(), sb = b.graph.state_dict();
  for (size_t i = 0; i < sa.size(); ++i) {
    INFO(sa[i].first);
    CHECK(max_rel_diff(sa[i].second, sb[i].second) == 0);
  }
}

TEST_CASE("the watchdog ends a process whose collective waits too long, and only then", "[distributed]") {
  {  // disarmed in time: nothing happens
    CollectiveWatchdog dog(0.2, 0);
    for (int i = 0; i < 3; ++i) {
      auto guard = dog.arm("allreduce");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // a stuck collective in a child process
    CollectiveWatchdog dog(0.3, 1);
    auto guard = dog.arm("allreduce");
    std::this_thread::sleep_for(std::chrono::seconds(20));
    std::_Exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK(seconds < 5);
}
