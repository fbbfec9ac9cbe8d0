#include "trainers/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <ostream>
#include <random>

namespace mt {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
}  // namespace

Trainer::Trainer(layers::Model& model, KernelBackend& backend, OptimizerFactory make_optimizer,
                 const LrSchedule& schedule, TrainOptions options, Normalization normalization)
    : model_(model), backend_(backend), make_optimizer_(std::move(make_optimizer)), schedule_(schedule),
      options_(options), normalization_(std::move(normalization)), exec_(model.graph, backend) {
  exec_.set_seed(options.seed);
}

int64_t Trainer::count_correct(const Tensor& labels) const {
  const Tensor& logits = exec_.value(model_.logits);  // [B, K], row-major on the CPU
  const int64_t b = logits.dim(0), k = logits.dim(1);
  const float* z = logits.data<float>();
  int64_t correct = 0;
  for (int64_t i = 0; i < b; ++i) {
    const int64_t best = std::max_element(z + i * k, z + (i + 1) * k) - (z + i * k);
    correct += best == labels.data<int64_t>()[i];
  }
  return correct;
}

double Trainer::gradient_sum_squares() {
  double s = 0;
  for (ValueId p : model_.graph.params()) s += backend_.sum_squares(exec_.grad(p));
  return s;
}

double Trainer::train_step(const Tensor& images, const Tensor& labels, int64_t* correct) {
  exec_.forward({images, labels}, Mode::train);
  exec_.backward(model_.loss);
  const double loss = exec_.value(model_.loss).data<float>()[0];
  if (options_.inject_nonfinite_at_step == step_ + 1) {  // fault injection for reliability tests
    Tensor& g = const_cast<Tensor&>(exec_.grad(model_.graph.params().front()));
    backend_.fill(g, std::numeric_limits<double>::quiet_NaN());
  }
  // Checked before the update: a non-finite step must never reach the weights.
  const double grad_sq = gradient_sum_squares();
  if (!std::isfinite(loss) || !std::isfinite(grad_sq)) {
    const std::string what = !std::isfinite(loss) ? "loss" : "gradient norm";
    MT_CHECK(options_.skip_nonfinite_steps, Error, "the ", what, " is not finite at step ", step_ + 1,
             " (loss ", loss, "); the weights were not updated. Lower optim.lr, check the data, ",
             "or set train.on_nonfinite: skip_step");
    ++skipped_steps_;
    ++step_;
    return loss;
  }
  if (!optimizer_) optimizer_ = make_optimizer_(graph_params(model_.graph, exec_));
  optimizer_->set_lr(schedule_.lr(step_));
  optimizer_->step(backend_);
  ++step_;
  *correct += count_correct(labels);
  return loss;
}

EvalResult Trainer::evaluate(const Dataset& data) {
  const int64_t n = data.size(), bs = options_.eval_batch_size;
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  EvalResult r;
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t start = 0; start < n; start += bs) {
    const int64_t count = std::min(bs, n - start);
    Tensor images = Tensor::empty({count, data.sample[0], data.sample[1], data.sample[2]});
    Tensor labels = Tensor::empty({count}, DType::i64);
    fill_batch(data, normalization_, order.data() + start, count, images, labels);
    exec_.forward({images, labels}, Mode::eval);
    loss_sum += exec_.value(model_.loss).data<float>()[0] * count;
    correct += count_correct(labels);
  }
  r.samples = n;
  r.loss = n ? loss_sum / n : 0;
  r.accuracy = n ? static_cast<double>(correct) / n : 0;
  return r;
}

std::vector<EpochResult> Trainer::fit(const Dataset& train, const Dataset* test, std::ostream& log) {
  const int64_t n = train.size(), bs = options_.batch_size;
  MT_CHECK(n >= bs, ConfigError, "train.batch_size ", bs, " exceeds the ", n, " training samples");
  const int64_t steps_per_epoch = n / bs;  // the last partial batch is dropped, as drop_last=True
  std::mt19937_64 shuffle_rng(options_.seed ^ 0x5eedULL);
  std::vector<int64_t> order(n);
  Tensor images = Tensor::empty({bs, train.sample[0], train.sample[1], train.sample[2]});
  Tensor labels = Tensor::empty({bs}, DType::i64);
  std::vector<EpochResult> results;
  for (int64_t epoch = 1; epoch <= options_.epochs; ++epoch) {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), shuffle_rng);
    EpochResult r;
    r.epoch = epoch;
    const auto t0 = Clock::now();
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      if (options_.max_steps && step_ >= options_.max_steps) break;
      fill_batch(train, normalization_, order.data() + s * bs, bs, images, labels);
      const double loss = train_step(images, labels, &correct);
      loss_sum += loss;
      ++r.steps;
      if (step_ % options_.log_every == 0)
        log << "epoch " << epoch << " step " << s + 1 << "/" << steps_per_epoch << "  loss "
            << loss << "  lr " << optimizer_->lr() << "  " << static_cast<int64_t>(r.steps * bs / seconds_since(t0))
            << " img/s" << std::endl;
    }
    r.seconds = seconds_since(t0);
    r.images_per_second = r.steps * bs / std::max(r.seconds, 1e-9);
    r.train.samples = r.steps * bs;
    r.train.loss = r.steps ? loss_sum / r.steps : 0;
    r.train.accuracy = r.steps ? static_cast<double>(correct) / (r.steps * bs) : 0;
    if (test) r.test = evaluate(*test);
    log << "epoch " << epoch << " done in " << r.seconds << " s (" << static_cast<int64_t>(r.images_per_second)
        << " img/s): train loss " << r.train.loss << " acc " << 100 * r.train.accuracy << "%";
    if (test) log << ", test loss " << r.test.loss << " acc " << 100 * r.test.accuracy << "%";
    log << std::endl;
    results.push_back(r);
    if (options_.max_steps && step_ >= options_.max_steps) break;
  }
  return results;
}

}  // namespace mt
