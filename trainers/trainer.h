#pragma once
// The training loop: seeded shuffling, batches, forward / backward / optimizer step under a
// learning-rate schedule, progress lines, and evaluation on a held-out set each epoch.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <vector>

#include "core/executor.h"
#include "layers/zoo/model.h"
#include "trainers/dataset.h"
#include "trainers/lr_schedule.h"
#include "trainers/optimizer.h"

namespace mt {

struct TrainOptions {
  int64_t epochs = 1;
  int64_t batch_size = 128;
  int64_t max_steps = 0;        // 0: no limit
  int64_t log_every = 50;
  int64_t eval_batch_size = 500;
  uint64_t seed = 0;
  // A step whose loss or gradient is not finite: stop (false, the default) or skip its update.
  bool skip_nonfinite_steps = false;
  int64_t inject_nonfinite_at_step = 0;  // tests: poison a gradient at this step (1-based; 0 = off)
};

struct EvalResult {
  double loss = 0;
  double accuracy = 0;  // fraction in [0, 1]
  int64_t samples = 0;
};

struct EpochResult {
  int64_t epoch = 0;
  int64_t steps = 0;
  EvalResult train;   // running averages over the epoch's batches (train mode)
  EvalResult test;    // samples == 0 when there is no test set
  double seconds = 0;
  double images_per_second = 0;
};

// The optimizer is made once the executor has planned its gradient buffers (after the first
// backward), from the parameters bound to them.
using OptimizerFactory = std::function<std::unique_ptr<Optimizer>(std::vector<ParamRef>)>;

class Trainer {
 public:
  Trainer(layers::Model& model, KernelBackend& backend, OptimizerFactory make_optimizer,
          const LrSchedule& schedule, TrainOptions options, Normalization normalization);

  // Trains for options.epochs (or until max_steps), evaluating on `test` after each epoch when
  // given. Progress goes to `log`.
  std::vector<EpochResult> fit(const Dataset& train, const Dataset* test, std::ostream& log);
  EvalResult evaluate(const Dataset& data);
  int64_t steps() const { return step_; }
  int64_t skipped_steps() const { return skipped_steps_; }

 private:
  double train_step(const Tensor& images, const Tensor& labels, int64_t* correct);
  int64_t count_correct(const Tensor& labels) const;
  double gradient_sum_squares();

  layers::Model& model_;
  KernelBackend& backend_;
  OptimizerFactory make_optimizer_;
  std::unique_ptr<Optimizer> optimizer_;
  const LrSchedule& schedule_;
  TrainOptions options_;
  Normalization normalization_;
  Executor exec_;
  int64_t step_ = 0;
  int64_t skipped_steps_ = 0;
};

}  // namespace mt
