#include "trainers/progress.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace mt {

namespace {

std::string fmt(const char* format, double a) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, a);
  return buf;
}

std::string loss_acc(const char* name, double loss, double acc) {
  if (!std::isfinite(loss)) return std::string(name) + " -";
  return std::string(name) + " loss " + fmt("%.4f", loss) + " acc " + fmt("%.2f%%", 100.0 * acc);
}

}  // namespace

bool stream_is_terminal(const std::ostream& out) {
  int fd = -1;
  if (&out == &std::cout) fd = STDOUT_FILENO;
  else if (&out == &std::cerr || &out == &std::clog) fd = STDERR_FILENO;
  return fd >= 0 && ::isatty(fd);
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(std::llround(seconds));
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof(buf), "%lld:%02lld", s / 60, s % 60);
  return buf;
}

Progress::Progress(std::ostream& out, ProgressOptions options) : out_(out), options_(std::move(options)) {
  live_ = options_.mode == ProgressMode::live ||
          (options_.mode == ProgressMode::automatic && stream_is_terminal(out_) && !options_.dumb_terminal);
  if (options_.plain_every < 1) options_.plain_every = 1;
}

double Progress::now() const {
  if (options_.clock) return options_.clock();
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

void Progress::start_epoch(int64_t epoch, int64_t num_epochs, int64_t steps_per_epoch) {
  epoch_ = epoch;
  num_epochs_ = num_epochs;
  steps_ = steps_per_epoch;
  epoch_start_ = now();
  last_draw_ = -1e300;
  images_ = 0;
}

std::string Progress::status_line(int64_t step, double loss, double lr) const {
  const double elapsed = now() - epoch_start_;
  const double per_step = step > 0 ? elapsed / static_cast<double>(step) : 0.0;
  const double eta = per_step * static_cast<double>(steps_ - step);
  const double speed = elapsed > 0 ? static_cast<double>(images_) / elapsed : 0.0;
  char head[96];
  std::snprintf(head, sizeof(head), "epoch %lld/%lld step %lld/%lld", static_cast<long long>(epoch_),
                static_cast<long long>(num_epochs_), static_cast<long long>(step), static_cast<long long>(steps_));
  return std::string(head) + " eta " + (elapsed > 0 ? format_duration(eta) : "?") + " " + fmt("%.0f", speed) +
         " img/s loss " + fmt("%.4f", loss) + " lr " + fmt("%.4g", lr);
}

void Progress::draw_live(const std::string& line) {
  // Pad with blanks over a longer previous line instead of using ANSI erase codes, which some
  // terminals (and IDE consoles) print literally.
  std::string padded = line;
  if (padded.size() < live_width_) padded.append(live_width_ - padded.size(), ' ');
  out_ << '\r' << padded << std::flush;
  live_width_ = line.size();
}

void Progress::step(int64_t step, double loss, double lr, int64_t images) {
  images_ += images;
  if (live_) {
    const double t = now();
    if (t - last_draw_ < options_.min_interval_s && step != steps_) return;
    last_draw_ = t;
    draw_live(status_line(step, loss, lr));
  } else if (step % options_.plain_every == 0) {
    out_ << status_line(step, loss, lr) << '\n' << std::flush;
  }
}

void Progress::end_epoch(const EpochSummary& s) {
  char head[64];
  std::snprintf(head, sizeof(head), "epoch %lld/%lld done in %s: ", static_cast<long long>(s.epoch),
                static_cast<long long>(num_epochs_), format_duration(s.seconds).c_str());
  const std::string line = std::string(head) + loss_acc("train", s.train_loss, s.train_acc) + " | " +
                           loss_acc("test", s.test_loss, s.test_acc) + " | " + fmt("%.0f", s.img_per_s) + " img/s";
  if (live_) {
    draw_live(line);
    out_ << '\n' << std::flush;
    live_width_ = 0;
  } else {
    out_ << line << '\n' << std::flush;
  }
}

void Progress::note(const std::string& text) {
  if (live_ && live_width_ > 0) {
    draw_live(text);
    out_ << '\n' << std::flush;
    live_width_ = 0;
    last_draw_ = -1e300;
  } else {
    out_ << text << '\n' << std::flush;
  }
}

}  // namespace mt
