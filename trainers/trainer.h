#pragma once
// The training loop: batches from a background loader (seeded order and augmentation), forward /
// backward / optimizer step under a learning-rate schedule, hooks (structure learning), progress
// and metrics through a RunLogger, evaluation after each epoch, checkpoints, and exact resume.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/executor.h"
#include "layers/zoo/model.h"
#include "trainers/augment.h"
#include "trainers/checkpoint.h"
#include "trainers/data_parallel.h"
#include "trainers/dataset.h"
#include "trainers/loader.h"
#include "trainers/nonfinite_guard.h"
#include "trainers/lr_schedule.h"
#include "trainers/optimizer.h"
#include "trainers/run_logger.h"
#include "trainers/train_hook.h"

namespace mt {

struct TrainOptions {
  int64_t epochs = 1;
  int64_t batch_size = 128;     // per process; data parallel: the global batch is size() x this
  int64_t max_steps = 0;        // 0: no limit
  int64_t log_every = 50;       // steps between metrics lines (and plain progress lines)
  int64_t eval_batch_size = 500;
  uint64_t seed = 0;
  AugmentOptions augment;
  int loader_workers = 1;       // threads building each batch (LoaderOptions::workers)
  // A step whose loss or gradient is not finite: stop (false, the default) or skip its update.
  bool skip_nonfinite_steps = false;
  int64_t inject_nonfinite_at_step = 0;  // tests: poison a gradient at this step (1-based; 0 = off)
  bool inject_into_statistics = false;   // tests: poison a batch norm's running statistic instead
  // Checkpoints (when a CheckpointManager is attached): after every epoch, and every N steps
  // within one (0: only at epoch ends).
  int64_t checkpoint_every_steps = 0;
  // Before each end-of-epoch evaluation, re-estimate the batch norms' running statistics over
  // this many training batches (forward passes in train mode, no update). Structure learning
  // moves the weights under the statistics faster than their running average follows (a scale
  // shrinking every step changes every later layer's input), and evaluation then suffers for
  // nothing. 0: off.
  int64_t recalibrate_bn_batches = 0;
  bool profile = false;  // time every op (Executor::Options::profile)
};

struct EvalResult {
  double loss = 0;
  double accuracy = 0;  // fraction in [0, 1]
  int64_t samples = 0;
};

struct EpochResult {
  int64_t epoch = 0;  // 1-based
  int64_t steps = 0;  // steps taken in this epoch by this process (fewer after a mid-epoch resume)
  EvalResult train;   // running averages over the epoch's batches (train mode)
  EvalResult test;    // samples == 0 when there is no test set
  double seconds = 0;
  double images_per_second = 0;
};

// Builds the optimizer over the parameters bound to the executor's gradient tensors.
using OptimizerFactory = std::function<std::unique_ptr<Optimizer>(std::vector<ParamRef>)>;

class Trainer {
 public:
  Trainer(layers::Model& model, KernelBackend& backend, const OptimizerFactory& make_optimizer,
          const LrSchedule& schedule, TrainOptions options, Normalization normalization);
  // The model's params and buffers move to the backend's device for the trainer's lifetime and
  // come back to the host when it ends.
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Optional collaborators; each must outlive fit().
  void set_logger(RunLogger* logger) { logger_ = logger; }
  // Checkpoints are written by rank 0 only (other ranks may pass one; it is not used).
  void set_checkpoints(CheckpointManager* checkpoints) { checkpoints_ = checkpoints; }
  // Data-parallel training over `comm` (trainers/data_parallel.h): every rank calls fit() with
  // the same data and options; fit() starts from rank 0's weights, optimizer state and loop
  // position (so only rank 0 need resume()), and the epoch results are global on every rank.
  // Without it: a single process. Gradients on a GPU are summed by `device_comm` (NCCL, from
  // make_gpu_communicator); `comm` moves everything else, through the host.
  void set_distributed(Communicator& comm, DataParallelOptions options = {}, Communicator* device_comm = nullptr);
  void add_hook(TrainHook* hook) { hooks_.push_back(hook); }

  // Restores weights, optimizer, hooks and loop position from a checkpoint (`which` as
  // CheckpointManager::load takes it). A checkpoint written with another seed or batch size is
  // refused: the data order would not continue.
  CheckpointLoad resume(CheckpointManager& checkpoints, const std::string& which);

  // Trains until options.epochs (or max_steps) are done, from wherever the trainer stands,
  // evaluating on `test` after each epoch when given.
  std::vector<EpochResult> fit(const Dataset& train, const Dataset* test);
  EvalResult evaluate(const Dataset& data);
  // See TrainOptions::recalibrate_bn_batches; `salt` varies the batches drawn (the epoch).
  void recalibrate_batchnorm(const Dataset& train, int64_t batches, uint64_t salt);

  int64_t steps() const { return step_; }
  int64_t steps_per_epoch(const Dataset& train) const;
  DataParallel& data_parallel() { return *dp_; }
  int64_t skipped_steps() const { return skipped_steps_; }
  Executor& executor() { return exec_; }
  Optimizer& optimizer() { return *optimizer_; }

 private:
  struct EpochTally {  // running sums of the epoch in progress (saved with a mid-epoch checkpoint)
    double loss_sum = 0;
    int64_t correct = 0, samples = 0, steps = 0;
  };

  double train_step(const Batch& batch);
  void on_nonfinite_step(double loss, double grad_sq);
  int64_t count_correct(const Tensor& labels) const;
  double loss_value() const;  // this step's loss, read on the host
  double gradient_sum_squares();
  void log_step(double loss, int64_t images, double img_per_s);
  EpochResult finish_epoch(const Dataset& train, const Dataset* test, double seconds, int64_t steps_here);
  void save_checkpoint(double test_accuracy);
  TrainerState state() const;
  void apply_state(const TrainerState& s);
  void sync_from_root();
  void sync_hooks();
  bool done() const;

  layers::Model& model_;
  KernelBackend& backend_;
  const LrSchedule schedule_;  // a copy: a caller's temporary schedule must not dangle
  TrainOptions options_;
  Normalization normalization_;
  Executor exec_;
  std::unique_ptr<Optimizer> optimizer_;
  RunLogger* logger_ = nullptr;
  CheckpointManager* checkpoints_ = nullptr;
  std::vector<TrainHook*> hooks_;
  std::unique_ptr<DataParallel> dp_;  // over single_process() unless set_distributed
  std::unique_ptr<NonfiniteGuard> guard_;  // running statistics: checked every step, restored on a skip

  int64_t step_ = 0;           // optimizer steps taken (skipped ones included)
  int64_t epoch_ = 0;          // the epoch in progress, 0-based
  int64_t step_in_epoch_ = 0;  // batches of epoch_ consumed
  EpochTally tally_;
  double best_accuracy_ = 0;
  int64_t skipped_steps_ = 0;
  int64_t correct_this_step_ = 0;
};

}  // namespace mt
