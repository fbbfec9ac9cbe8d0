// Streamed image folders: the file list in memory, images decoded on the loader's worker threads
// with ImageNet's training transform. The batches do not depend on how many workers build them,
// a resumed epoch gets the batches the uninterrupted one had, evaluation reads what the in-memory
// folder holds, and a corrupt image fails the batch that reads it, naming the file.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>

#include "temp_dir.h"
#include "tests/trainers/image_files.h"
#include "trainers/dataset.h"
#include "trainers/image_folder.h"
#include "trainers/loader.h"
#include "trainers/worker_pool.h"

using namespace mt;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

// Two classes of 12 JPEGs of different sizes and aspect ratios, each a distinct gradient.
fs::path make_folder(const testing::TempDir& dir) {
  for (int label = 0; label < 2; ++label) {
    const fs::path cls = dir.path / ("class" + std::to_string(label));
    fs::create_directories(cls);
    for (int i = 0; i < 12; ++i) {
      const int h = 20 + 3 * i, w = 36 - 2 * i;
      std::vector<uint8_t> pixels;
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int c = 0; c < 3; ++c) pixels.push_back(static_cast<uint8_t>((7 * y + 5 * x + 60 * c + 11 * i + 90 * label) % 256));
      testing::write_jpeg(cls / ("img" + std::to_string(i) + ".jpg"), h, w, 3, pixels);
    }
  }
  return dir.path;
}

std::vector<std::vector<float>> epoch_batches(const Dataset& data, int workers, int64_t epoch, int64_t start = 0) {
  LoaderOptions o;
  o.batch_size = 5;
  o.seed = 3;
  o.workers = workers;
  BatchLoader loader(data, Normalization{{0.5, 0.5, 0.5}, {0.25, 0.25, 0.25}}, o);
  loader.start_epoch(epoch, start);
  std::vector<std::vector<float>> out;
  while (const Batch* b = loader.next()) {
    const float* p = b->images.data<float>();
    out.emplace_back(p, p + b->images.numel());
  }
  return out;
}

}  // namespace

TEST_CASE("a worker pool runs every index once and passes on the first error", "[data][loader]") {
  for (int helpers : {0, 1, 3}) {
    WorkerPool pool(helpers);
    CHECK(pool.workers() == helpers + 1);
    for (int round = 0; round < 3; ++round) {
      std::vector<std::atomic<int>> hits(257);
      std::atomic<int> bad_worker{0};
      pool.run(257, [&](int64_t i, int worker) {
        ++hits[static_cast<size_t>(i)];
        if (worker < 0 || worker > helpers) ++bad_worker;
      });
      for (const auto& h : hits) CHECK(h == 1);
      CHECK(bad_worker == 0);
    }
    CHECK_THROWS_WITH(pool.run(50, [](int64_t i, int) { if (i == 17) throw DataError("sample 17 is broken"); }),
                      Contains("sample 17"));
    std::atomic<int> after{0};
    pool.run(10, [&](int64_t, int) { ++after; });  // usable again after a failure
    CHECK(after == 10);
  }
}

TEST_CASE("a streamed image folder keeps files, not images, and batches do not depend on the workers",
          "[data][loader]") {
  testing::TempDir dir("stream");
  make_folder(dir);
  ImageFolderOptions eager{.size = 16, .channels = 3, .width = 12};
  ImageFolderOptions streamed = eager;
  streamed.stream = true;
  const Dataset in_memory = load_image_folder(dir.path.string(), eager);
  const Dataset data = load_image_folder(dir.path.string(), streamed);
  CHECK(data.streamed());
  CHECK(data.pixels.empty());
  CHECK(data.sample == Shape({3, 16, 12}));
  CHECK(data.labels == in_memory.labels);

  // Evaluation reads (no random engine) are the in-memory folder's resize and centre crop.
  std::vector<uint8_t> scratch(static_cast<size_t>(data.sample.numel()));
  for (int64_t i : {0, 7, 23}) {
    const uint8_t* got = data.sample_pixels(i, scratch.data());
    CHECK(std::equal(got, got + data.sample.numel(), in_memory.pixels.data() + i * data.sample.numel()));
  }
  const Normalization stats = channel_statistics(data), eager_stats = channel_statistics(in_memory);
  for (int c = 0; c < 3; ++c) CHECK(stats.mean[c] == Approx(eager_stats.mean[c]).epsilon(1e-12));

  // Training batches: the random-resized crops differ from the centre crops, are the same for 1, 2
  // and 4 workers, differ between epochs, and a resumed epoch continues exactly.
  const auto one = epoch_batches(data, 1, 0), two = epoch_batches(data, 2, 0), four = epoch_batches(data, 4, 0);
  REQUIRE(one.size() == 4);  // 24 samples, batches of 5, the last partial one dropped
  CHECK(one == two);
  CHECK(one == four);
  CHECK(epoch_batches(data, 2, 1) != one);
  const auto resumed = epoch_batches(data, 2, 0, 2);
  REQUIRE(resumed.size() == 2);
  CHECK(resumed[0] == one[2]);
  CHECK(resumed[1] == one[3]);
  CHECK(epoch_batches(in_memory, 1, 0) != one);  // the in-memory folder is not randomly cropped
}

TEST_CASE("a corrupt image in a streamed folder fails the batch that reads it, naming the file", "[data][loader]") {
  testing::TempDir dir("stream_corrupt");
  make_folder(dir);
  const fs::path broken = dir.path / "class1" / "img5.jpg";
  std::ofstream(broken, std::ios::trunc) << "\xff\xd8 not really a jpeg";
  ImageFolderOptions o{.size = 8, .channels = 3};
  o.stream = true;
  const Dataset data = load_image_folder(dir.path.string(), o);  // listing reads no image
  LoaderOptions lo;
  lo.batch_size = 24;
  lo.workers = 2;
  BatchLoader loader(data, Normalization{{0, 0, 0}, {1, 1, 1}}, lo);
  loader.start_epoch(0);
  CHECK_THROWS_WITH(loader.next(), Contains("img5.jpg"));
}
