#pragma once
// A bound on how long a collective may wait. A rank that dies is noticed by the launcher
// (mpirun kills the rest of the job), but a rank that hangs (a deadlock, a stuck file system, a
// peer stopped in a debugger) would hold every other rank in its allreduce forever. The
// watchdog thread ends this process when one collective has waited longer than the timeout;
// the launcher then sees a rank exit without finalising and ends the job, non-zero.
//
//   CollectiveWatchdog dog(600, rank);
//   { auto guard = dog.arm("allreduce"); MPI_Allreduce(...); }
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace mt {

class CollectiveWatchdog {
 public:
  // timeout_s <= 0: no thread, arm() does nothing.
  CollectiveWatchdog(double timeout_s, int rank);
  ~CollectiveWatchdog();
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  class Guard {
   public:
    Guard(Guard&& other) noexcept : dog_(other.dog_) { other.dog_ = nullptr; }
    ~Guard() {
      if (dog_) dog_->disarm();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    friend class CollectiveWatchdog;
    explicit Guard(CollectiveWatchdog* dog) : dog_(dog) {}
    CollectiveWatchdog* dog_;
  };

  // Starts the clock for one collective named `what` (a string literal); it stops when the guard
  // goes out of scope.
  Guard arm(const char* what);
  double timeout_s() const { return timeout_s_; }

 private:
  using Clock = std::chrono::steady_clock;
  void disarm();
  void watch();

  double timeout_s_;
  int rank_;
  std::mutex mutex_;
  std::condition_variable cv_;
  const char* what_ = nullptr;  // the collective waited on; null when none
  Clock::time_point since_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mt
