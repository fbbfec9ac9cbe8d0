#include "trainers/metrics_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace mt {

namespace {

int open_append(const std::string& path, const char* who) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  MT_CHECK(fd >= 0, IoError, "[", who, "] cannot open '", path, "' for appending: ", std::strerror(errno));
  return fd;
}

// One write() per line; the loop only matters for signals or a full disk, where a short write is
// reported rather than silently dropped.
void write_all(int fd, const std::string& line, const std::string& path, const char* who) {
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    MT_CHECK(n > 0, IoError, "[", who, "] write to '", path, "' failed: ", n < 0 ? std::strerror(errno) : "no progress");
    done += static_cast<size_t>(n);
  }
}

// A full disk or a kill can still leave a partial last line (a short write). A run that appends
// after it would glue its first record onto the fragment, and every reader would then drop both:
// the file's owner cuts it back to its last complete line before appending. Returns the bytes cut.
size_t trim_torn_tail(int fd, const std::string& path, const char* who) {
  struct stat st {};
  MT_CHECK(::fstat(fd, &st) == 0, IoError, "[", who, "] cannot stat '", path, "': ", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return 0;  // a device or a pipe has no tail to trim
  off_t end = st.st_size;
  char chunk[4096];
  while (end > 0) {
    const off_t begin = end > static_cast<off_t>(sizeof chunk) ? end - static_cast<off_t>(sizeof chunk) : 0;
    const ssize_t n = ::pread(fd, chunk, static_cast<size_t>(end - begin), begin);
    MT_CHECK(n == end - begin, IoError, "[", who, "] cannot read '", path, "': ", std::strerror(errno));
    for (ssize_t i = n - 1; i >= 0; --i) {
      if (chunk[i] != '\n') continue;
      const off_t keep = begin + i + 1;
      if (keep == st.st_size) return 0;  // ends with a whole line
      MT_CHECK(::ftruncate(fd, keep) == 0, IoError, "[", who, "] cannot trim the torn last line of '", path,
               "': ", std::strerror(errno));
      return static_cast<size_t>(st.st_size - keep);
    }
    end = begin;
  }
  // No newline at all: the only line is torn.
  MT_CHECK(::ftruncate(fd, 0) == 0, IoError, "[", who, "] cannot trim the torn line of '", path, "': ",
           std::strerror(errno));
  return static_cast<size_t>(st.st_size);
}

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace

MetricsLog::MetricsLog(std::string path) : path_(std::move(path)), fd_(open_append(path_, "metrics_log")) {
  trim_torn_tail(fd_, path_, "metrics_log");
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::log(const StepMetrics& m) {
  nlohmann::json j = {{"step", m.step}, {"epoch", m.epoch}, {"loss", number(m.loss)},
                      {"lr", number(m.lr)}, {"img_per_s", number(m.img_per_s)}};
  for (const auto& [name, value] : m.extra) {
    MT_CHECK(!j.contains(name), ConfigError, "[metrics_log] extra metric '", name, "' repeats a standard field");
    j[name] = number(value);
  }
  log(j);
}

void MetricsLog::log(const nlohmann::json& object) {
  MT_CHECK(object.is_object(), ConfigError, "[metrics_log] a metrics line must be a JSON object, got ",
           object.type_name());
  // dump() escapes newlines inside strings, so the record stays one line.
  write_all(fd_, object.dump() + "\n", path_, "metrics_log");
}

SummaryCsv::SummaryCsv(std::string path) : path_(std::move(path)), fd_(open_append(path_, "summary_csv")) {
  trim_torn_tail(fd_, path_, "summary_csv");
  struct stat st {};
  MT_CHECK(::fstat(fd_, &st) == 0, IoError, "[summary_csv] cannot stat '", path_, "': ", std::strerror(errno));
  if (st.st_size == 0) write_line("epoch,train_loss,train_acc,test_loss,test_acc,seconds,img_per_s\n");
}

SummaryCsv::~SummaryCsv() {
  if (fd_ >= 0) ::close(fd_);
}

void SummaryCsv::add(const EpochSummary& r) {
  char line[512];
  std::snprintf(line, sizeof(line), "%lld,%.6g,%.6g,%.6g,%.6g,%.3f,%.1f\n", static_cast<long long>(r.epoch),
                r.train_loss, r.train_acc, r.test_loss, r.test_acc, r.seconds, r.img_per_s);
  write_line(line);
}

void SummaryCsv::write_line(const std::string& line) { write_all(fd_, line, path_, "summary_csv"); }

}  // namespace mt
