#pragma once
// The communicator on NCCL, for buffers in GPU memory: one process per GPU, the processes those
// of a host communicator (MPI, launched by mpirun), over which rank 0's ncclUniqueId travels.
// Only built with MORPHTRAIN_HAVE_NCCL; callers get it through make_gpu_communicator()
// (trainers/communicator.h) and never include <nccl.h>.
//
// Every collective takes DEVICE pointers and runs on a stream of its own, after the kernels
// queued on the CUDA backend's stream before it (backward's gradients): the device orders the
// two streams through an event, without the host waiting. So a bucket's sum started during
// backward overlaps the kernels backward queues after it. A blocking collective (allreduce_sum,
// broadcast) waits on the host until it has finished, as the MPI ones do; start_allreduce_sum only
// queues, and wait() waits on the host, after which the compute stream may use the buffer. Waits poll NCCL's asynchronous error state and run under the watchdog, so a
// hung peer ends the job after `timeout_s` here as well. barrier() is the host communicator's.
#include <memory>

#include "kernels/cuda/cuda_backend.h"
#include "trainers/collective_watchdog.h"
#include "trainers/communicator.h"

namespace mt {

class NcclCommunicator final : public Communicator {
 public:
  // A collective of every process of `host` (whose device must be the CPU): call it on every
  // rank alike. `backend` is the CUDA backend the model computes on; both must outlive this.
  NcclCommunicator(Communicator& host, CudaBackend& backend, const CommunicatorOptions& options);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  std::string name() const override { return "nccl"; }
  Device device() const override { return backend_.device(); }

  void allreduce_sum(float* data, int64_t n) override;
  void allreduce_sum(double* data, int64_t n) override;
  void allreduce_sum(int64_t* data, int64_t n) override;
  PendingCollective start_allreduce_sum(float* data, int64_t n) override;
  PendingCollective start_allreduce_sum(double* data, int64_t n) override;
  bool test(PendingCollective pending) override;
  void wait(PendingCollective pending) override;
  void broadcast(void* data, int64_t bytes, int root) override;
  void barrier() override;
  // ncclCommAbort (it stops this process's queued NCCL work), then the host communicator's abort.
  void abort(int code) override;

 private:
  struct State;  // the NCCL communicator, the stream, events of collectives in flight

  Communicator& host_;
  CudaBackend& backend_;
  std::unique_ptr<CollectiveWatchdog> watchdog_;
  std::unique_ptr<State> state_;
};

}  // namespace mt
