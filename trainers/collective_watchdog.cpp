#include "trainers/collective_watchdog.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace mt {

CollectiveWatchdog::CollectiveWatchdog(double timeout_s, int rank) : timeout_s_(timeout_s), rank_(rank) {
  if (timeout_s_ > 0) thread_ = std::thread(&CollectiveWatchdog::watch, this);
}

CollectiveWatchdog::~CollectiveWatchdog() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

CollectiveWatchdog::Guard CollectiveWatchdog::arm(const char* what) {
  if (timeout_s_ <= 0) return Guard(nullptr);
  std::lock_guard<std::mutex> lock(mutex_);
  what_ = what;
  since_ = Clock::now();
  return Guard(this);
}

void CollectiveWatchdog::disarm() {
  std::lock_guard<std::mutex> lock(mutex_);
  what_ = nullptr;
}

void CollectiveWatchdog::watch() {
  const auto timeout = std::chrono::duration<double>(timeout_s_);
  // Checked a few times per timeout, at least once a second, so the bound is timeout + 1 s.
  const auto tick = std::chrono::duration_cast<Clock::duration>(
      std::min(std::chrono::duration<double>(1.0), timeout / 4));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    cv_.wait_for(lock, tick, [&] { return stop_; });
    if (stop_ || !what_ || Clock::now() - since_ < timeout) continue;
    // NB: no MPI call from this thread (MPI was initialised for the main thread only); an exit
    // without MPI_Finalize makes mpirun end the other ranks.
    std::fprintf(stderr,
                 "morphtrain: rank %d: %s has waited %.0f s for the other ranks (distributed.timeout_s): "
                 "one of them is hung or dead; ending the job\n",
                 rank_, what_, timeout_s_);
    std::fflush(stderr);
    std::_Exit(1);
  }
}

}  // namespace mt
