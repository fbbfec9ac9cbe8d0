#pragma once
// Human-facing training progress. On a terminal: one live line rewritten with '\r' (at most a few
// times a second, so printing never costs training time). Elsewhere (pipes, CI logs): a plain line
// every N steps, since '\r' turns a log file into one enormous line.
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "trainers/metrics_log.h"

namespace mt {

enum class ProgressMode { automatic, live, plain };

struct ProgressOptions {
  ProgressMode mode = ProgressMode::automatic;  // automatic: live iff the stream is a terminal
  int64_t plain_every = 50;                     // plain mode: print every N steps
  double min_interval_s = 0.25;                 // live mode: redraw at most this often
  std::function<double()> clock;                // seconds, monotonic; empty = steady_clock
  bool dumb_terminal = false;                   // TERM=dumb: automatic never goes live
};

// True when `out` is std::cout / std::cerr / std::clog and that descriptor is a terminal. Other
// streams (files, string streams) are never terminals.
bool stream_is_terminal(const std::ostream& out);

class Progress {
 public:
  Progress(std::ostream& out, ProgressOptions options = {});

  void start_epoch(int64_t epoch, int64_t num_epochs, int64_t steps_per_epoch);
  // step: 1-based within the epoch; images: batch size of this step.
  void step(int64_t step, double loss, double lr, int64_t images);
  // Closes the live line (if any) and prints train / test loss and accuracy, time and speed.
  void end_epoch(const EpochSummary& summary);
  // A line of its own; on a terminal it replaces the live line, which the next step redraws.
  void note(const std::string& text);

  bool live() const { return live_; }

 private:
  double now() const;
  std::string status_line(int64_t step, double loss, double lr) const;
  void draw_live(const std::string& line);

  std::ostream& out_;
  ProgressOptions options_;
  bool live_;
  int64_t epoch_ = 0;
  int64_t num_epochs_ = 0;
  int64_t steps_ = 0;
  double epoch_start_ = 0.0;
  double last_draw_ = -1e300;
  int64_t images_ = 0;
  size_t live_width_ = 0;  // length of the live line on screen, to blank leftovers
};

// "1:02:03" or "4:05": hours only when needed.
std::string format_duration(double seconds);

}  // namespace mt
