#pragma once
// A background batch loader: a worker thread (with helpers, LoaderOptions::workers) shuffles,
// decodes (a streamed data set), augments and normalises samples into a small ring of batch
// buffers allocated once: a bounded prefetch queue, so that loading overlaps the training step, a
// streamed data set is never all in memory, and a steady-state epoch of in-memory data allocates
// nothing.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "trainers/augment.h"
#include "trainers/dataset.h"
#include "trainers/worker_pool.h"

namespace mt {

struct LoaderOptions {
  int64_t batch_size = 128;
  uint64_t seed = 0;        // (seed, epoch) fixes the order; (seed, epoch, position) the augmentation
  bool shuffle = true;      // false: samples in data set order
  bool drop_last = true;    // false: a last, smaller batch takes the remainder
  AugmentOptions augment;
  int64_t buffers = 3;      // ring size: one batch in the caller's hands, the rest being filled
  // Threads that build a batch of a streamed data set (Dataset::source) together: the loader's
  // own and workers - 1 helpers decode its images, each sample with the source's training
  // transform drawn from (seed, epoch, position), like the augmentation. In-memory data: one.
  int workers = 1;
  // Data parallel: every shard shares the epoch's order, and shard r of `shards` takes the r-th
  // slice of batch_size samples of each global batch of shards x batch_size, so the shards of a
  // step together hold exactly what one loader with shards x batch_size would. Needs drop_last.
  int shard = 0, shards = 1;
};

struct Batch {
  // Augmentation draws from (seed, epoch, the sample's position in the epoch's order) alone, so
  // a sample is augmented alike however the epoch is split into batches and shards.
  Tensor images;  // [B, C, H, W] f32, nchw, normalised
  Tensor labels;  // [B] i64
  int64_t epoch = 0, step = 0;
};

// The order of an epoch: a permutation of [0, n) drawn from (seed, epoch) alone, so a resumed run
// recreates it. Fisher-Yates over uniform_below, identical on every standard library.
void epoch_order(uint64_t seed, int64_t epoch, std::vector<int64_t>& order);

class BatchLoader {
 public:
  // `data` must outlive the loader and not change while an epoch runs.
  BatchLoader(const Dataset& data, Normalization norm, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  int64_t steps_per_epoch() const { return steps_; }

  // Begins `epoch` at batch `start_step` (0 <= start_step <= steps_per_epoch): the batches that
  // follow are exactly batches start_step.. of the uninterrupted epoch. Abandons what the previous
  // epoch had left, and any pending error.
  void start_epoch(int64_t epoch, int64_t start_step = 0);

  // The next batch (waiting for the worker if need be), or nullptr when the epoch is over. The batch
  // stays valid until the next call to next() or start_epoch(). An exception raised while building
  // it is rethrown here, at the batch it broke, and again on every call until start_epoch().
  const Batch* next();

 private:
  struct Slot {
    Batch full, tail;  // tail: views of the same memory for the last, smaller batch
    bool ready = false;
  };

  void work();
  void fill(Slot& slot, int64_t step);
  int64_t fill_limit() const;

  const Dataset& data_;
  LoaderOptions options_;
  std::vector<float> scale_, shift_;  // per channel: pixel * scale - shift
  int64_t steps_ = 0, tail_ = 0;     // batches per epoch; size of the last one if smaller
  std::vector<Slot> slots_;
  std::vector<int64_t> order_;
  std::vector<std::vector<uint8_t>> scratch_, decoded_;  // per worker: an augmented, a decoded sample
  std::unique_ptr<WorkerPool> pool_;  // the helpers; null with one worker

  std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  int64_t epoch_ = -1;
  int64_t produce_ = 0, consume_ = 0;  // next step the worker fills / next() returns
  bool holding_ = false;               // the caller holds the batch of step consume_ - 1
  bool busy_ = false;                  // the worker is filling a slot outside the lock
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

}  // namespace mt
