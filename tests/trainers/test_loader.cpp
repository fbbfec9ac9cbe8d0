// BatchLoader: batches equal fill_batch's, seeded order and augmentation reproduce, every sample
// once per epoch, resuming at step k gives exactly batches k.. of the uninterrupted epoch, worker
// errors surface in next(), and a steady-state epoch allocates no tensor memory.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <set>

#include "trainers/loader.h"

using namespace mt;

namespace {
// Channel ch of sample i is the constant i + 1 + 7 ch, so the id survives any crop that keeps
// pixel (1, 1) inside the source.
Dataset constant_samples(int64_t n, int64_t c = 1, int64_t hw = 4) {
  Dataset d;
  d.name = "constant";
  d.sample = Shape{c, hw, hw};
  d.num_classes = 5;
  for (int64_t i = 0; i < n; ++i) {
    d.labels.push_back(i % 5);
    for (int64_t p = 0; p < c * hw * hw; ++p) d.pixels.push_back(static_cast<uint8_t>(i + 1 + 7 * (p / (hw * hw))));
  }
  return d;
}

struct Copy {
  std::vector<float> images;
  std::vector<int64_t> labels;
  int64_t step;
  bool operator==(const Copy&) const = default;
};

Copy copy_of(const Batch& b) {
  const float* im = b.images.data<float>();
  const int64_t* lab = b.labels.data<int64_t>();
  return {std::vector<float>(im, im + b.images.numel()), std::vector<int64_t>(lab, lab + b.labels.numel()), b.step};
}

std::vector<Copy> run_epoch(BatchLoader& loader, int64_t epoch, int64_t start = 0) {
  loader.start_epoch(epoch, start);
  std::vector<Copy> out;
  while (const Batch* b = loader.next()) out.push_back(copy_of(*b));
  return out;
}

// With mean 0, std 1 a pixel value v comes out as v / 255; pixel (c=0, y=1, x=1) is i + 1.
int64_t sample_id(const Copy& b, int64_t row, int64_t chw, int64_t w) {
  return std::lround(b.images[row * chw + w + 1] * 255) - 1;
}

LoaderOptions options(int64_t bs, uint64_t seed, bool shuffle, AugmentOptions aug = {}, bool drop_last = true) {
  LoaderOptions o;
  o.batch_size = bs;
  o.seed = seed;
  o.shuffle = shuffle;
  o.augment = aug;
  o.drop_last = drop_last;
  return o;
}
}  // namespace

TEST_CASE("BatchLoader without shuffle or augmentation equals fill_batch", "[data]") {
  const Dataset d = constant_samples(10, 3);
  const Normalization norm{{0.1, 0.2, 0.3}, {0.5, 0.6, 0.7}};
  BatchLoader loader(d, norm, options(4, 1, false, {}, false));
  CHECK(loader.steps_per_epoch() == 3);
  const std::vector<Copy> got = run_epoch(loader, 0);
  REQUIRE(got.size() == 3);
  CHECK(got[2].labels.size() == 2);  // the remainder, drop_last off
  std::vector<int64_t> idx(10);
  std::iota(idx.begin(), idx.end(), 0);
  for (int64_t s = 0; s < 3; ++s) {
    const int64_t count = s < 2 ? 4 : 2;
    Tensor images = Tensor::empty({count, 3, 4, 4});
    Tensor labels = Tensor::empty({count}, DType::i64);
    fill_batch(d, norm, idx.data() + 4 * s, count, images, labels);
    Batch expect{images, labels, 0, s};
    CHECK(copy_of(expect) == got[s]);
  }
  CHECK(loader.next() == nullptr);  // stays at the end
}

TEST_CASE("BatchLoader: the same seed gives the same batches, every sample once per epoch", "[data]") {
  const Dataset d = constant_samples(23);
  const AugmentOptions aug{1, true};
  BatchLoader a(d, Normalization{}, options(5, 42, true, aug, false));
  BatchLoader b(d, Normalization{}, options(5, 42, true, aug, false));
  BatchLoader other(d, Normalization{}, options(5, 43, true, aug, false));
  std::vector<int64_t> first_order;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    const std::vector<Copy> ea = run_epoch(a, epoch);
    CHECK(run_epoch(b, epoch) == ea);
    CHECK(run_epoch(other, epoch) != ea);
    std::vector<int64_t> order;
    for (const Copy& batch : ea)
      for (size_t r = 0; r < batch.labels.size(); ++r) {
        order.push_back(sample_id(batch, r, 16, 4));
        CHECK(batch.labels[r] == order.back() % 5);
      }
    REQUIRE(order.size() == 23);
    CHECK(std::set<int64_t>(order.begin(), order.end()).size() == 23);
    CHECK(*std::min_element(order.begin(), order.end()) == 0);
    CHECK(*std::max_element(order.begin(), order.end()) == 22);
    if (epoch == 0) first_order = order;
    else CHECK(order != first_order);  // a new permutation each epoch
  }
}

TEST_CASE("BatchLoader with drop_last sees distinct samples in full batches", "[data]") {
  const Dataset d = constant_samples(23);
  BatchLoader loader(d, Normalization{}, options(5, 3, true));
  const std::vector<Copy> e = run_epoch(loader, 7);
  REQUIRE(e.size() == 4);
  std::set<int64_t> seen;
  for (const Copy& batch : e) {
    REQUIRE(batch.labels.size() == 5);
    for (int64_t r = 0; r < 5; ++r) seen.insert(sample_id(batch, r, 16, 4));
  }
  CHECK(seen.size() == 20);
}

TEST_CASE("BatchLoader: start_epoch(e, k) yields exactly batches k.. of the whole epoch", "[data]") {
  const Dataset d = constant_samples(37);
  const LoaderOptions o = options(4, 11, true, {2, true}, false);
  BatchLoader whole(d, Normalization{}, o);
  const std::vector<Copy> full = run_epoch(whole, 5);
  REQUIRE(full.size() == 10);
  for (int64_t k : {0, 1, 3, 9, 10}) {
    BatchLoader resumed(d, Normalization{}, o);  // a fresh process, as after a restart
    const std::vector<Copy> rest = run_epoch(resumed, 5, k);
    CHECK(rest == std::vector<Copy>(full.begin() + k, full.end()));
  }
  // Abandoning an epoch midway and restarting it also reproduces it.
  whole.start_epoch(5);
  whole.next();
  whole.next();
  CHECK(run_epoch(whole, 5, 1) == std::vector<Copy>(full.begin() + 1, full.end()));
  CHECK_THROWS_AS(whole.start_epoch(5, 11), ConfigError);
  CHECK_THROWS_AS(whole.start_epoch(5, -1), ConfigError);
}

TEST_CASE("BatchLoader rethrows a worker error at the batch it broke", "[data]") {
  Dataset d = constant_samples(12);
  d.labels[7] = 5;  // outside [0, 4]
  BatchLoader loader(d, Normalization{}, options(2, 0, false));
  loader.start_epoch(0);
  for (int s = 0; s < 3; ++s) CHECK(loader.next() != nullptr);  // samples 0..5 are fine
  try {
    loader.next();
    FAIL("no error from the worker");
  } catch (const DataError& e) {
    CHECK_THAT(e.what(), Catch::Contains("sample 7") && Catch::Contains("label 5"));
  }
  CHECK_THROWS_AS(loader.next(), DataError);  // sticky until the epoch restarts
  d.labels[7] = 2;
  CHECK(run_epoch(loader, 0).size() == 6);
}

TEST_CASE("BatchLoader reuses its ring of buffers: no tensor allocation per batch", "[data][alloc]") {
  const Dataset d = constant_samples(40, 3, 8);
  BatchLoader loader(d, Normalization{{0, 0, 0}, {1, 1, 1}}, options(4, 9, true, {2, true}, true));
  run_epoch(loader, 0);
  const AllocatorStats before = allocator_for(Device::cpu()).stats();
  std::set<const void*> buffers;
  loader.start_epoch(1);
  int64_t batches = 0;
  while (const Batch* b = loader.next()) {
    buffers.insert(b->images.raw());
    ++batches;
  }
  const AllocatorStats after = allocator_for(Device::cpu()).stats();
  CHECK(batches == 10);
  CHECK(buffers.size() == 3);
  CHECK(after.system_allocs == before.system_allocs);
  CHECK(after.cache_hits == before.cache_hits);
}

TEST_CASE("BatchLoader shuts down cleanly and rejects misuse", "[data]") {
  const Dataset d = constant_samples(30);
  {
    BatchLoader idle(d, Normalization{}, options(3, 0, true));
    CHECK_THROWS_AS(idle.next(), ConfigError);  // before start_epoch
  }
  {
    BatchLoader busy(d, Normalization{}, options(3, 0, true));
    busy.start_epoch(0);
    CHECK(busy.next() != nullptr);  // the ring is full behind it when the destructor runs
  }
  CHECK_THROWS_AS(BatchLoader(d, Normalization{}, options(31, 0, true)), ConfigError);  // no full batch
  CHECK_THROWS_AS(BatchLoader(d, Normalization{{0, 0}, {1, 1}}, options(3, 0, true)), ConfigError);
  Dataset short_pixels = d;
  short_pixels.pixels.pop_back();
  CHECK_THROWS_AS(BatchLoader(short_pixels, Normalization{}, options(3, 0, true)), DataError);
}
