#pragma once
// Everything a run reports, behind one object: the human progress lines (live on a terminal,
// plain elsewhere), metrics.jsonl, summary.csv and the TensorBoard event file of a run directory.
// Without a run directory only the progress lines are written.
#include <memory>
#include <ostream>
#include <string>

#include "trainers/metrics_log.h"
#include "trainers/progress.h"
#include "trainers/tfevents.h"

namespace mt {

class RunLogger {
 public:
  // `run_dir` empty: no files. Files that exist are appended to (a resumed run).
  RunLogger(std::ostream& out, const std::string& run_dir, ProgressOptions progress = {});

  void start_epoch(int64_t epoch, int64_t num_epochs, int64_t steps_per_epoch);
  // Every step: the progress line. `log_line`: also a metrics.jsonl line and TensorBoard scalars.
  void step(const StepMetrics& m, int64_t step_in_epoch, int64_t images, bool log_line);
  void end_epoch(const EpochSummary& summary, int64_t global_step);
  // A free-form line for the person watching (resume notices, checkpoint paths), closing any
  // live line first so it is not overwritten.
  void note(const std::string& text);
  // Any JSON record for metrics.jsonl (evaluations, structure exports).
  void record(const nlohmann::json& object);
  std::ostream& out() { return out_; }
  const std::string& run_dir() const { return run_dir_; }  // empty: no files

 private:
  std::ostream& out_;
  std::string run_dir_;
  Progress progress_;
  std::unique_ptr<MetricsLog> metrics_;
  std::unique_ptr<SummaryCsv> summary_;
  std::unique_ptr<TfEventsWriter> events_;
};

}  // namespace mt
