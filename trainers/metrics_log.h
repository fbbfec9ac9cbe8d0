#pragma once
// Machine-readable run logs: metrics.jsonl (one JSON object per step line) and summary.csv (one row
// per epoch). Both append, so a resumed run continues the same files.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace mt {

struct StepMetrics {
  int64_t step = 0;
  int64_t epoch = 0;
  double loss = 0.0;
  double lr = 0.0;
  double img_per_s = 0.0;
  // Any further numbers (reg_loss, flops, alive channels, ...); names must not repeat the fields above.
  std::vector<std::pair<std::string, double>> extra;
};

// Each line is written with a single write() on an O_APPEND descriptor: no user-space buffer to
// lose, so a crash (or a reader tailing the file) never sees a torn line. Non-finite numbers become
// JSON null (JSON has no NaN). A full disk can still cut a write short: opening the file (a resumed
// run) trims a torn last line, so that appending starts on a line of its own.
class MetricsLog {
 public:
  explicit MetricsLog(std::string path);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void log(const StepMetrics& m);
  void log(const nlohmann::json& object);  // any JSON object, e.g. an evaluation record

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

struct EpochSummary {
  int64_t epoch = 0;
  double train_loss = 0.0;
  double train_acc = 0.0;  // fraction in [0, 1]
  double test_loss = 0.0;  // NaN when there is no test set
  double test_acc = 0.0;
  double seconds = 0.0;
  double img_per_s = 0.0;
};

// summary.csv: the header is written once (when the file is new or empty), then one row per epoch,
// each written and flushed immediately.
class SummaryCsv {
 public:
  explicit SummaryCsv(std::string path);
  ~SummaryCsv();
  SummaryCsv(const SummaryCsv&) = delete;
  SummaryCsv& operator=(const SummaryCsv&) = delete;

  void add(const EpochSummary& row);

  const std::string& path() const { return path_; }

 private:
  void write_line(const std::string& line);
  std::string path_;
  int fd_ = -1;
};

}  // namespace mt
