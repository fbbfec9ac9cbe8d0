#include "trainers/loader.h"

#include <algorithm>
#include <numeric>

namespace mt {

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
// Independent engine seeds for (seed, epoch, step, stream): nearby seeds must not give related
// streams, which seeding mt19937_64 with seed + epoch directly would risk.
uint64_t mix_seed(uint64_t seed, int64_t epoch, int64_t step, uint64_t stream) {
  uint64_t h = splitmix64(seed ^ stream);
  h = splitmix64(h ^ static_cast<uint64_t>(epoch));
  return splitmix64(h ^ static_cast<uint64_t>(step));
}
constexpr uint64_t kOrderStream = 0x6f72646572ULL, kAugmentStream = 0x6175676dULL, kTransformStream = 0x7866726dULL;
}  // namespace

void epoch_order(uint64_t seed, int64_t epoch, std::vector<int64_t>& order) {
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(mix_seed(seed, epoch, 0, kOrderStream));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[uniform_below(rng, i)]);
}

BatchLoader::BatchLoader(const Dataset& data, Normalization norm, LoaderOptions options)
    : data_(data), options_(std::move(options)) {
  const int64_t n = data.size(), bs = options_.batch_size;
  MT_CHECK(data.sample.rank() == 3, ShapeError, "BatchLoader: sample shape ", data.sample.str(), " is not [C, H, W]");
  const int64_t c = data.sample[0];
  MT_CHECK(data.streamed() || static_cast<int64_t>(data.pixels.size()) == n * data.sample.numel(), DataError,
           "data set '", data.name, "': ", data.pixels.size(), " pixels for ", n, " samples of ", data.sample.str());
  MT_CHECK(options_.workers >= 1 && options_.workers <= 256, ConfigError, "loader workers must be in [1, 256], got ",
           options_.workers);
  MT_CHECK(bs > 0, ConfigError, "batch size must be positive, got ", bs);
  MT_CHECK(options_.buffers >= 2, ConfigError, "BatchLoader needs at least 2 buffers, got ", options_.buffers);
  MT_CHECK(options_.augment.pad >= 0, ConfigError, "augmentation padding must be >= 0, got ", options_.augment.pad);
  MT_CHECK(static_cast<int64_t>(norm.mean.size()) == c && static_cast<int64_t>(norm.std.size()) == c, ConfigError,
           "normalisation has ", norm.mean.size(), " means and ", norm.std.size(), " stds for ", c, " channels");
  for (int64_t ch = 0; ch < c; ++ch) {
    MT_CHECK(norm.std[ch] > 0, ConfigError, "normalisation std of channel ", ch, " must be positive, got ", norm.std[ch]);
    // The same arithmetic as fill_batch, so both give identical batches.
    scale_.push_back(static_cast<float>(1.0 / (255.0 * norm.std[ch])));
    shift_.push_back(static_cast<float>(norm.mean[ch] / norm.std[ch]));
  }
  MT_CHECK(options_.shards >= 1 && options_.shard >= 0 && options_.shard < options_.shards, ConfigError,
           "BatchLoader: shard ", options_.shard, " of ", options_.shards);
  MT_CHECK(options_.shards == 1 || options_.drop_last, ConfigError, "BatchLoader: sharding needs drop_last");
  steps_ = options_.drop_last ? n / (bs * options_.shards) : (n + bs - 1) / bs;
  tail_ = options_.drop_last ? 0 : n % bs;
  MT_CHECK(steps_ > 0, ConfigError, "data set '", data.name, "' of ", n, " samples gives no batch of ",
           bs * options_.shards, (options_.shards > 1 ? " (batch size x shards)" : ""),
           (options_.drop_last ? " with drop_last" : ""));
  const Shape sample = data.sample;
  slots_.resize(options_.buffers);
  for (Slot& s : slots_) {
    s.full.images = Tensor::empty({bs, sample[0], sample[1], sample[2]});
    s.full.labels = Tensor::empty({bs}, DType::i64);
    if (tail_ == 0) continue;
    s.tail.images = Tensor::wrap(s.full.images.raw(), {tail_, sample[0], sample[1], sample[2]}, DType::f32);
    s.tail.labels = Tensor::wrap(s.full.labels.raw(), {tail_}, DType::i64);
  }
  order_.resize(n);
  scratch_.assign(options_.workers, std::vector<uint8_t>(static_cast<size_t>(sample.numel())));
  decoded_.assign(data.streamed() ? options_.workers : 0, std::vector<uint8_t>(static_cast<size_t>(sample.numel())));
  // In-memory samples take microseconds each: helpers would cost more in hand-offs than they save.
  if (options_.workers > 1 && data.streamed()) pool_ = std::make_unique<WorkerPool>(options_.workers - 1);
  worker_ = std::thread(&BatchLoader::work, this);  // last: everything it reads exists now
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    work_cv_.notify_all();
  }
  worker_.join();
}

void BatchLoader::start_epoch(int64_t epoch, int64_t start_step) {
  MT_CHECK(start_step >= 0 && start_step <= steps_, ConfigError, "start_epoch: start step ", start_step,
           " is outside [0, ", steps_, "]");
  std::unique_lock<std::mutex> lock(mutex_);
  // The worker reads order_ and a slot outside the lock; wait until it is not in the middle of that.
  ready_cv_.wait(lock, [&] { return !busy_; });
  if (options_.shuffle) epoch_order(options_.seed, epoch, order_);
  else std::iota(order_.begin(), order_.end(), 0);
  for (Slot& s : slots_) s.ready = false;
  epoch_ = epoch;
  produce_ = consume_ = start_step;
  holding_ = false;
  error_ = nullptr;
  work_cv_.notify_one();
}

const Batch* BatchLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  MT_CHECK(epoch_ >= 0, ConfigError, "BatchLoader::next called before start_epoch");
  if (holding_) {  // the caller is done with the previous batch: its slot may be refilled
    holding_ = false;
    work_cv_.notify_one();
  }
  if (consume_ >= steps_) return nullptr;
  Slot& slot = slots_[consume_ % options_.buffers];
  ready_cv_.wait(lock, [&] { return slot.ready || error_; });
  // Batches finished before a failure still come out; the error surfaces at the batch it broke.
  if (!slot.ready) std::rethrow_exception(error_);
  slot.ready = false;
  holding_ = true;
  const bool last_small = tail_ > 0 && consume_ == steps_ - 1;
  ++consume_;
  return last_small ? &slot.tail : &slot.full;
}

int64_t BatchLoader::fill_limit() const { return consume_ + options_.buffers - (holding_ ? 1 : 0); }

void BatchLoader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [&] {
      return stop_ || (epoch_ >= 0 && !error_ && produce_ < steps_ && produce_ < fill_limit());
    });
    if (stop_) return;
    const int64_t step = produce_;
    Slot& slot = slots_[step % options_.buffers];
    busy_ = true;
    lock.unlock();
    std::exception_ptr error;
    try {
      fill(slot, step);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    busy_ = false;
    if (error) {
      error_ = error;
    } else {
      slot.ready = true;
      ++produce_;
    }
    ready_cv_.notify_all();
  }
}

// Runs on the worker without the lock: start_epoch waits for it before touching order_ or epoch_.
void BatchLoader::fill(Slot& slot, int64_t step) {
  const int64_t first = (step * options_.shards + options_.shard) * options_.batch_size;
  const bool last_small = tail_ > 0 && step == steps_ - 1;
  Batch& batch = last_small ? slot.tail : slot.full;
  const int64_t count = batch.labels.numel();
  const int64_t c = data_.sample[0], hw = data_.sample[1] * data_.sample[2];
  float* out = batch.images.data<float>();
  int64_t* labels = batch.labels.data<int64_t>();
  auto one = [&](int64_t b, int worker) {
    const int64_t i = order_[first + b];
    const int64_t label = data_.labels[i];
    MT_CHECK(label >= 0 && (data_.num_classes <= 0 || label < data_.num_classes), DataError, "data set '",
             data_.name, "': label ", label, " of sample ", i, " is outside [0, ", data_.num_classes - 1, "]");
    // One engine per sample position and purpose: a resumed epoch draws the same crops and flips
    // without replaying the batches it skips, a sharded epoch draws what an unsharded one does,
    // and the worker that happens to build a sample does not matter.
    std::mt19937_64 transform(mix_seed(options_.seed, epoch_, first + b, kTransformStream));
    const uint8_t* src = data_.sample_pixels(i, data_.streamed() ? decoded_[worker].data() : nullptr, &transform);
    if (options_.augment.enabled()) {
      std::mt19937_64 rng(mix_seed(options_.seed, epoch_, first + b, kAugmentStream));
      augment_sample(src, scratch_[worker].data(), data_.sample, options_.augment, rng);
      src = scratch_[worker].data();
    }
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < hw; ++p) out[(b * c + ch) * hw + p] = src[ch * hw + p] * scale_[ch] - shift_[ch];
    labels[b] = label;
  };
  if (pool_) {
    pool_->run(count, one);
  } else {
    for (int64_t b = 0; b < count; ++b) one(b, 0);
  }
  batch.epoch = epoch_;
  batch.step = step;
}

}  // namespace mt
