#pragma once
// The communicator on MPI (Open MPI from Debian's libopenmpi-dev, or any MPI 3): one process per
// rank of MPI_COMM_WORLD, launched by mpirun. Only built with MORPHTRAIN_HAVE_MPI; callers get
// it through make_communicator() (trainers/communicator.h) and never include <mpi.h>.
//
// MPI is initialised by the constructor (MPI_THREAD_FUNNELED: only the main thread calls MPI)
// and finalised by the destructor; one instance per process. Every blocking collective, and the
// wait for a background sum (MPI_Iallreduce), runs under the watchdog
// (trainers/collective_watchdog.h).
#include <memory>

#include "trainers/collective_watchdog.h"
#include "trainers/communicator.h"

namespace mt {

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(const CommunicatorOptions& options);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }
  void allreduce_sum(float* data, int64_t n) override;
  void allreduce_sum(double* data, int64_t n) override;
  void allreduce_sum(int64_t* data, int64_t n) override;
  PendingCollective start_allreduce_sum(float* data, int64_t n) override;
  PendingCollective start_allreduce_sum(double* data, int64_t n) override;
  bool test(PendingCollective pending) override;
  void wait(PendingCollective pending) override;
  void broadcast(void* data, int64_t bytes, int root) override;
  void barrier() override;
  void abort(int code) override;

 private:
  struct Requests;  // the MPI requests of every sum in flight (MPI types stay in the .cpp)

  int rank_ = 0, size_ = 1;
  std::unique_ptr<CollectiveWatchdog> watchdog_;
  std::unique_ptr<Requests> requests_;
};

}  // namespace mt
