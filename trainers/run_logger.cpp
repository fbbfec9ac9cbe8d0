#include "trainers/run_logger.h"

namespace mt {

RunLogger::RunLogger(std::ostream& out, const std::string& run_dir, ProgressOptions progress)
    : out_(out), run_dir_(run_dir), progress_(out, std::move(progress)) {
  if (run_dir.empty()) return;
  metrics_ = std::make_unique<MetricsLog>(run_dir + "/metrics.jsonl");
  summary_ = std::make_unique<SummaryCsv>(run_dir + "/summary.csv");
  events_ = std::make_unique<TfEventsWriter>(run_dir);
}

void RunLogger::start_epoch(int64_t epoch, int64_t num_epochs, int64_t steps_per_epoch) {
  progress_.start_epoch(epoch, num_epochs, steps_per_epoch);
}

void RunLogger::step(const StepMetrics& m, int64_t step_in_epoch, int64_t images, bool log_line) {
  progress_.step(step_in_epoch, m.loss, m.lr, images);
  if (!log_line || !metrics_) return;
  metrics_->log(m);
  events_->add_scalar("train/loss", m.loss, m.step);
  events_->add_scalar("train/lr", m.lr, m.step);
  events_->add_scalar("train/img_per_s", m.img_per_s, m.step);
  for (const auto& [name, value] : m.extra) events_->add_scalar("train/" + name, value, m.step);
}

void RunLogger::end_epoch(const EpochSummary& s, int64_t global_step) {
  progress_.end_epoch(s);
  if (!summary_) return;
  summary_->add(s);
  events_->add_scalar("epoch/train_loss", s.train_loss, global_step);
  events_->add_scalar("epoch/train_accuracy", s.train_acc, global_step);
  if (s.test_loss == s.test_loss) {  // NaN without a test set
    events_->add_scalar("epoch/test_loss", s.test_loss, global_step);
    events_->add_scalar("epoch/test_accuracy", s.test_acc, global_step);
  }
  events_->flush();  // an epoch's figures must be visible (and survive a crash) at once
}

void RunLogger::note(const std::string& text) { progress_.note(text); }

void RunLogger::record(const nlohmann::json& object) {
  if (metrics_) metrics_->log(object);
}

}  // namespace mt
