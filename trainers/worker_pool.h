#pragma once
// A fixed set of helper threads for one indexed job at a time: run(n, fn) calls fn(i, worker) for
// every i in [0, n), spread over the helpers and the calling thread, and returns when all are
// done. What the batch loader decodes images with (trainers/loader.h): threads are made once, not
// per batch, and each call knows its worker number so it can use that worker's scratch memory.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mt {

class WorkerPool {
 public:
  using Job = std::function<void(int64_t index, int worker)>;

  // `helpers` threads besides the caller (0: run() does everything on the caller).
  explicit WorkerPool(int helpers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Workers are numbered 0 (the caller) to helpers. The first exception a call throws is
  // rethrown here once every index has been taken (the rest are skipped).
  void run(int64_t n, const Job& fn);
  int workers() const { return static_cast<int>(threads_.size()) + 1; }

 private:
  void loop(int worker);
  void drain(int worker);

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable start_cv_, done_cv_;
  const Job* job_ = nullptr;
  int64_t n_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<bool> failed_{false};
  int running_ = 0;          // helpers still working on the current job
  uint64_t generation_ = 0;  // bumped per job, so a helper takes each job once
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace mt
