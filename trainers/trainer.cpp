#include "trainers/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>
#include <numeric>

#include "core/device_transfer.h"
#include "trainers/loader.h"

namespace mt {

namespace {
using Clock = std::chrono::steady_clock;

Executor::Options executor_options(const TrainOptions& t) {
  Executor::Options o;
  o.profile = t.profile;
  return o;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The seed of one step's random ops: a function of the run's seed and the step alone, so that a
// resumed run draws what the uninterrupted one drew.
uint64_t step_seed(uint64_t seed, int64_t step) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(step + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

Trainer::Trainer(layers::Model& model, KernelBackend& backend, const OptimizerFactory& make_optimizer,
                 const LrSchedule& schedule, TrainOptions options, Normalization normalization)
    : model_(model), backend_(backend), schedule_(schedule), options_(options),
      normalization_(std::move(normalization)), exec_(model.graph, backend, executor_options(options)) {
  // The weights live where the backend computes for as long as the trainer does (see ~Trainer).
  move_state_to(model_.graph, backend_);
  // The executor owns one gradient tensor per parameter from construction on, so the optimizer
  // exists before any step (a resume loads its state into it).
  optimizer_ = make_optimizer(graph_params(model_.graph, exec_));
  dp_ = std::make_unique<DataParallel>(single_process(), model_.graph, exec_);
  guard_ = std::make_unique<NonfiniteGuard>(model_.graph, backend_, options_.skip_nonfinite_steps);
}

Trainer::~Trainer() {
  // Everything after training (reshaping, export, reports) reads the weights on the host.
  try {
    move_state_to_host(model_.graph, backend_);
  } catch (const std::exception& e) {
    std::cerr << "[trainer] warning: could not copy the weights back from " << backend_.device().str()
              << ": " << e.what() << std::endl;
  }
}

void Trainer::set_distributed(Communicator& comm, DataParallelOptions options, Communicator* device_comm) {
  dp_ = std::make_unique<DataParallel>(comm, model_.graph, exec_, options, device_comm);
}

int64_t Trainer::steps_per_epoch(const Dataset& train) const {
  return train.size() / (options_.batch_size * dp_->size());
}

int64_t Trainer::count_correct(const Tensor& labels) const {
  const Tensor logits = to_host(exec_.value(model_.logits), backend_);  // [B, K], row-major
  const int64_t b = logits.dim(0), k = logits.dim(1);
  const float* z = logits.data<float>();
  int64_t correct = 0;
  for (int64_t i = 0; i < b; ++i) {
    const int64_t best = std::max_element(z + i * k, z + (i + 1) * k) - (z + i * k);
    correct += best == labels.data<int64_t>()[i];
  }
  return correct;
}

double Trainer::loss_value() const {
  return to_host(exec_.value(model_.loss), backend_).data<float>()[0];
}

double Trainer::gradient_sum_squares() {
  double s = 0;
  for (ValueId p : model_.graph.params()) s += backend_.sum_squares(exec_.grad(p));
  return s;
}

double Trainer::train_step(const Batch& batch) {
  exec_.set_seed(step_seed(options_.seed, step_));
  guard_->before_forward();  // a skipped step puts the running statistics back
  exec_.forward({batch.images, batch.labels}, Mode::train);
  const bool inject = options_.inject_nonfinite_at_step == step_ + 1;  // fault injection for reliability tests
  if (inject && options_.inject_into_statistics) guard_->poison_statistics();
  // The gradients' allreduce overlaps the backward pass (bucket by bucket); the hooks' gradients
  // are added after it, identical on every rank, so they are not averaged.
  dp_->begin_backward();
  exec_.backward(model_.loss);
  dp_->finish_gradients();
  // The global figures of the step: every rank decides on the same loss below. The running
  // statistics are each rank's own, so their verdict travels with the loss.
  double tally[3] = {loss_value(), static_cast<double>(count_correct(batch.labels)),
                     guard_->statistics_finite() ? 0.0 : 1.0};
  dp_->sum(tally, 3);
  const double data_loss = tally[0] / dp_->size();
  double loss = data_loss;
  for (TrainHook* h : hooks_) loss += h->after_backward(exec_, step_);
  if (inject && !options_.inject_into_statistics) {
    Tensor& g = exec_.param_grad(model_.graph.params().front());
    backend_.fill(g, std::numeric_limits<double>::quiet_NaN());
  }
  // Checked before the update: a non-finite step must never reach the weights.
  const double grad_sq = gradient_sum_squares();
  correct_this_step_ = 0;
  sync_hooks();  // their decisions (controller strength, masks) as rank 0 made them
  if (!std::isfinite(loss) || !std::isfinite(grad_sq) || tally[2] > 0) {
    on_nonfinite_step(loss, grad_sq);
    ++skipped_steps_;
    ++step_;
    return data_loss;
  }
  optimizer_->set_lr(schedule_.lr(step_));
  optimizer_->step(backend_);
  for (TrainHook* h : hooks_) h->after_step(exec_, optimizer_->lr());
  sync_hooks();
  ++step_;
  correct_this_step_ = static_cast<int64_t>(tally[1]);
  dp_->maybe_verify(step_);
  return data_loss;
}

// Reports the step (nonfinite_report.json, naming the first tensor that went non-finite), then
// stops the run or, under skip_step, undoes what the forward pass changed.
void Trainer::on_nonfinite_step(double loss, double grad_sq) {
  const std::vector<NonfiniteTensor> found = guard_->scan(exec_);
  const bool skip = options_.skip_nonfinite_steps;
  if (logger_ && dp_->is_root())
    write_nonfinite_report(logger_->run_dir(), step_ + 1, loss, found, skip ? "skipped" : "stopped");
  const std::string what = !std::isfinite(loss)      ? "loss is"
                           : !std::isfinite(grad_sq) ? "gradient norm is"
                                                     : "batch-norm running statistics are";
  MT_CHECK(skip, Error, "the ", what, " not finite at step ", step_ + 1, " (loss ", loss,
           "; first non-finite: ", describe_first(found, "none found in the statistics or gradients"),
           "); the weights were not updated. Lower optim.lr, check the data, or set train.on_nonfinite: skip_step");
  guard_->restore();
  if (logger_)
    logger_->note("warning: skipped step " + std::to_string(step_ + 1) + ": the " + what + " not finite (" +
                  describe_first(found, "no tensor found") + ")");
}

EvalResult Trainer::evaluate(const Dataset& data) {
  const int64_t n = data.size(), bs = options_.eval_batch_size;
  // Identical replicas share the work (rank r takes the r-th slice); replicas whose BN
  // statistics differ leave it to rank 0, whose model is the one checkpointed.
  const bool shard = dp_->buffers_identical();
  const int64_t ranks = shard ? dp_->size() : 1, r0 = shard ? dp_->rank() : 0;
  const int64_t begin = n * r0 / ranks, end = n * (r0 + 1) / ranks;
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  EvalResult r;
  double sums[2] = {0, 0};  // loss x samples, correct
  for (int64_t start = begin; start < end && (shard || dp_->is_root()); start += bs) {
    const int64_t count = std::min(bs, end - start);
    Tensor images = Tensor::empty({count, data.sample[0], data.sample[1], data.sample[2]});
    Tensor labels = Tensor::empty({count}, DType::i64);
    fill_batch(data, normalization_, order.data() + start, count, images, labels);
    exec_.forward({images, labels}, Mode::eval);
    sums[0] += loss_value() * count;
    sums[1] += static_cast<double>(count_correct(labels));
  }
  if (shard) dp_->sum(sums, 2);
  else if (dp_->size() > 1) dp_->comm().broadcast(sums, sizeof sums, 0);
  r.samples = n;
  r.loss = n ? sums[0] / n : 0;
  r.accuracy = n ? sums[1] / n : 0;
  return r;
}

TrainerState Trainer::state() const {
  TrainerState s;
  s.step = step_;
  s.epoch = epoch_;
  s.step_in_epoch = step_in_epoch_;
  s.seed = options_.seed;
  s.best_accuracy = best_accuracy_;
  // The order and augmentation are functions of (seed, epoch, position): no engine state to keep.
  s.extra["batch_size"] = options_.batch_size;
  s.extra["world_size"] = dp_->size();
  s.extra["skipped_steps"] = skipped_steps_;
  s.extra["tally"] = {{"loss_sum", tally_.loss_sum}, {"correct", tally_.correct},
                      {"samples", tally_.samples}, {"steps", tally_.steps}};
  for (const TrainHook* h : hooks_)
    if (!h->state_key().empty()) s.extra["hooks"][h->state_key()] = h->state();
  return s;
}

void Trainer::save_checkpoint(double test_accuracy) {
  if (!checkpoints_ || !dp_->is_root()) return;
  // Mid-epoch checkpoints pass -1: their model was not evaluated, so they never count as best.
  const std::string path = checkpoints_->save(model_.graph, *optimizer_, state(), test_accuracy);
  if (logger_) logger_->note("checkpoint " + path);
}

CheckpointLoad Trainer::resume(CheckpointManager& checkpoints, const std::string& which) {
  TrainerState s;
  CheckpointLoad loaded = checkpoints.load(which, model_.graph, optimizer_.get(), s);
  const auto batch = s.extra.value("batch_size", options_.batch_size);
  const auto ranks = s.extra.value("world_size", int64_t{1});
  MT_CHECK(s.seed == options_.seed && batch == options_.batch_size && ranks == dp_->size(), ConfigError,
           "checkpoint ", loaded.path, " was written with seed ", s.seed, ", train.batch_size ", batch, " and ",
           ranks, " process(es); resuming with seed ", options_.seed, ", batch size ", options_.batch_size, " and ",
           dp_->size(), " would not continue its data order: use the same values (mpirun -np ", ranks, ")");
  apply_state(s);
  if (logger_) {
    for (const std::string& w : loaded.warnings) logger_->note("warning: " + w);
    logger_->note("resumed from " + loaded.path + " at step " + std::to_string(step_) + " (epoch " +
                  std::to_string(epoch_ + 1) + ", batch " + std::to_string(step_in_epoch_) + ")");
  }
  return loaded;
}

void Trainer::apply_state(const TrainerState& s) {
  step_ = s.step;
  epoch_ = s.epoch;
  step_in_epoch_ = s.step_in_epoch;
  best_accuracy_ = s.best_accuracy;
  skipped_steps_ = s.extra.value("skipped_steps", int64_t{0});
  const nlohmann::json tally = s.extra.value("tally", nlohmann::json::object());
  tally_ = {tally.value("loss_sum", 0.0), tally.value("correct", int64_t{0}), tally.value("samples", int64_t{0}),
            tally.value("steps", int64_t{0})};
  if (s.extra.contains("hooks"))
    for (TrainHook* h : hooks_)
      if (s.extra["hooks"].contains(h->state_key())) h->load_state(s.extra["hooks"][h->state_key()]);
}

// Every rank starts where rank 0 stands: its weights, buffers, optimizer state, loop position
// and hook states (a fresh run's, or the checkpoint rank 0 resumed from).
void Trainer::sync_from_root() {
  if (dp_->size() == 1) return;
  dp_->broadcast_model();
  dp_->broadcast_optimizer(*optimizer_);
  const std::string root_state = broadcast_string(dp_->comm(), to_json(state()).dump());
  if (!dp_->is_root()) apply_state(trainer_state_from_json(nlohmann::json::parse(root_state), "rank 0's state"));
}

// Hooks decide from the weights, which are the same on every rank; rank 0's decision is still
// the one that counts, so a rank whose decision differed takes it over.
void Trainer::sync_hooks() {
  if (dp_->size() == 1) return;
  nlohmann::json states = nlohmann::json::object();
  for (const TrainHook* h : hooks_)
    if (!h->state_key().empty()) states[h->state_key()] = h->state();
  if (states.empty()) return;
  const std::string mine = states.dump(), root = broadcast_string(dp_->comm(), mine);
  if (root == mine) return;
  const nlohmann::json chosen = nlohmann::json::parse(root);
  for (TrainHook* h : hooks_)
    if (chosen.contains(h->state_key())) h->load_state(chosen[h->state_key()]);
}

bool Trainer::done() const { return options_.max_steps && step_ >= options_.max_steps; }

void Trainer::log_step(double loss, int64_t images, double img_per_s) {
  if (!logger_) return;
  StepMetrics m;
  m.step = step_;
  m.epoch = epoch_ + 1;
  m.loss = loss;
  m.lr = optimizer_->lr();
  m.img_per_s = img_per_s;
  const bool line = step_ % options_.log_every == 0;
  if (line)
    for (TrainHook* h : hooks_) h->metrics(m.extra);
  logger_->step(m, step_in_epoch_, images, line);
}

void Trainer::recalibrate_batchnorm(const Dataset& train, int64_t batches, uint64_t salt) {
  const int64_t bs = options_.batch_size;
  batches = std::min(batches, train.size() / bs);
  if (batches <= 0) return;
  std::vector<int64_t> order(train.size());
  epoch_order(options_.seed ^ 0xB4ECA1ull, static_cast<int64_t>(salt), order);
  Tensor images = Tensor::empty({bs, train.sample[0], train.sample[1], train.sample[2]});
  Tensor labels = Tensor::empty({bs}, DType::i64);
  exec_.set_seed(step_seed(options_.seed ^ 0xB4ECA1ull, static_cast<int64_t>(salt)));
  for (int64_t b = 0; b < batches; ++b) {
    fill_batch(train, normalization_, order.data() + b * bs, bs, images, labels);
    exec_.forward({images, labels}, Mode::train);  // updates the running statistics only
  }
}

EpochResult Trainer::finish_epoch(const Dataset& train, const Dataset* test, double seconds, int64_t steps_here) {
  EpochResult r;
  r.epoch = epoch_ + 1;
  r.steps = steps_here;
  r.seconds = seconds;
  r.images_per_second = steps_here * options_.batch_size * dp_->size() / std::max(seconds, 1e-9);
  r.train.samples = tally_.samples;
  r.train.loss = tally_.steps ? tally_.loss_sum / tally_.steps : 0;
  r.train.accuracy = tally_.samples ? static_cast<double>(tally_.correct) / tally_.samples : 0;
  if (options_.recalibrate_bn_batches > 0) recalibrate_batchnorm(train, options_.recalibrate_bn_batches, epoch_);
  dp_->sync_buffers();
  dp_->verify_replicas(step_);
  if (test) r.test = evaluate(*test);
  for (TrainHook* h : hooks_) h->end_epoch(r.epoch);
  if (logger_) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    logger_->end_epoch({r.epoch, r.train.loss, r.train.accuracy, test ? r.test.loss : nan,
                        test ? r.test.accuracy : nan, r.seconds, r.images_per_second},
                       step_);
  }
  return r;
}

std::vector<EpochResult> Trainer::fit(const Dataset& train, const Dataset* test) {
  MT_CHECK(optimizer_, ConfigError, "the trainer was built without an optimizer");
  MT_CHECK(train.size() >= options_.batch_size * dp_->size(), ConfigError, "train.batch_size ",
           options_.batch_size, (dp_->size() > 1 ? " x " + std::to_string(dp_->size()) + " processes" : ""),
           " exceeds the ", train.size(), " training samples");
  sync_from_root();
  LoaderOptions lo;
  lo.batch_size = options_.batch_size;
  lo.seed = options_.seed;
  lo.augment = options_.augment;
  lo.workers = options_.loader_workers;
  lo.shard = dp_->rank();
  lo.shards = dp_->size();
  BatchLoader loader(train, normalization_, lo);  // drops the last partial batch, as drop_last=True
  const int64_t steps_per_epoch = loader.steps_per_epoch();
  std::vector<EpochResult> results;
  while (epoch_ < options_.epochs && !done()) {
    if (step_in_epoch_ == 0) tally_ = {};
    loader.start_epoch(epoch_, step_in_epoch_);
    if (logger_) logger_->start_epoch(epoch_ + 1, options_.epochs, steps_per_epoch);
    const auto t0 = Clock::now();
    int64_t steps_here = 0;
    while (!done()) {
      const Batch* batch = loader.next();
      if (!batch) break;
      const double loss = train_step(*batch);
      const int64_t images = batch->labels.dim(0) * dp_->size();
      ++step_in_epoch_;
      ++steps_here;
      tally_.loss_sum += loss;
      tally_.correct += correct_this_step_;
      tally_.samples += images;
      ++tally_.steps;
      log_step(loss, images, steps_here * options_.batch_size * dp_->size() / std::max(seconds_since(t0), 1e-9));
      if (options_.checkpoint_every_steps && step_ % options_.checkpoint_every_steps == 0 &&
          step_in_epoch_ < steps_per_epoch && !done()) {
        dp_->sync_buffers();
        save_checkpoint(-1.0);
      }
    }
    const bool complete = step_in_epoch_ >= steps_per_epoch;
    EpochResult r = finish_epoch(train, test, seconds_since(t0), steps_here);
    if (test) best_accuracy_ = std::max(best_accuracy_, r.test.accuracy);
    if (complete) {
      ++epoch_;
      step_in_epoch_ = 0;
    }
    save_checkpoint(test ? r.test.accuracy : 0.0);
    results.push_back(r);
  }
  return results;
}

}  // namespace mt
