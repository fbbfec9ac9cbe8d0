#pragma once
// The collectives data-parallel training needs, behind one interface: which process this is
// (rank) of how many (size), sums over every process in place (allreduce), one process's bytes
// to all (broadcast), and a barrier. Backends: a single process (everything a no-op), MPI
// (trainers/mpi_communicator.h), and NCCL for GPU buffers (trainers/nccl_communicator.h, whose
// unique id travels over the MPI one's broadcast).
//
// Buffers live where the communicator's data lives (device()): host memory for the
// single-process and MPI backends, the GPU for NCCL. Every process must call the same
// collectives in the same order with the same sizes; a collective is also a synchronisation
// point, so a process that never arrives holds the others, and a watchdog
// (trainers/collective_watchdog.h) ends the job after `timeout_s`.
//
// Sums may also run in the background (start_allreduce_sum ... wait), so that data-parallel
// training averages the gradients of the last layers while backward computes the first ones.
#include <cstdint>
#include <memory>
#include <string>

#include "core/tensor.h"

namespace mt {

class KernelBackend;

// A sum in flight (Communicator::start_allreduce_sum), finished by wait(). Handles are plain
// numbers owned by the communicator that issued them.
struct PendingCollective {
  int64_t id = -1;  // -1: nothing in flight (the sum ran at once)
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;  // "single", "mpi", "nccl"
  // Where the buffers of its collectives live.
  virtual Device device() const { return Device::cpu(); }

  // Element-wise sum over all processes, in place; every process ends with the same values.
  virtual void allreduce_sum(float* data, int64_t n) = 0;
  virtual void allreduce_sum(double* data, int64_t n) = 0;
  virtual void allreduce_sum(int64_t* data, int64_t n) = 0;
  // The same sum, started in the background. `data` must stay untouched (neither read nor
  // written) until wait() of the handle returns; every process starts its sums in the same order.
  // The default sums at once (the single process: nothing to do).
  virtual PendingCollective start_allreduce_sum(float* data, int64_t n) {
    allreduce_sum(data, n);
    return {};
  }
  virtual PendingCollective start_allreduce_sum(double* data, int64_t n) {
    allreduce_sum(data, n);
    return {};
  }
  // Moves the sum along and says whether it has finished (wait() must still be called). NB: Open
  // MPI's ob1 transfers only inside MPI calls, so a caller that computes meanwhile calls this
  // now and then.
  virtual bool test(PendingCollective) { return true; }
  // Blocks until the sum has finished (under the watchdog's timeout, as a blocking collective);
  // then `data` holds it. A handle is waited on once.
  virtual void wait(PendingCollective) {}
  // `bytes` bytes of `root`'s buffer into every other process's buffer.
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every process of the job now with exit code `code`, for a process that failed while the
  // others may be waiting in a collective (a clean finalize would wait for them forever). The
  // single-process communicator returns and lets the caller exit.
  virtual void abort(int code) = 0;

  bool is_root() const { return rank() == 0; }
};

// One process: rank 0 of 1.
class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "single"; }
  void allreduce_sum(float*, int64_t) override {}
  void allreduce_sum(double*, int64_t) override {}
  void allreduce_sum(int64_t*, int64_t) override {}
  void broadcast(void*, int64_t, int) override {}
  void barrier() override {}
  void abort(int) override {}
};

// A process-wide single-process communicator, the default of everything that takes one.
Communicator& single_process();

// Rank `root`'s string on every process (its length first, then its bytes).
std::string broadcast_string(Communicator& comm, std::string text, int root = 0);
// A tensor's bytes from `root` into the same-shaped tensor on every process (CPU memory).
void broadcast_tensor(Communicator& comm, Tensor& tensor, int root = 0);
// `root`'s named tensors on every process: names, dtypes and shapes first, then the data; the
// others' `tensors` are replaced (e.g. an optimizer's state, which only the root may have).
void broadcast_named_tensors(Communicator& comm, NamedTensors& tensors, int root = 0);

struct CommunicatorOptions {
  // A collective that waits longer than this ends the job (0: wait forever).
  double timeout_s = 600;
};

// The number of processes the launcher started (Open MPI's OMPI_COMM_WORLD_SIZE, PMI's
// PMI_SIZE for MPICH and Slurm), 1 when not launched by one.
int launched_world_size();

// The communicator of this process: MPI when a launcher started more than one process, else the
// single-process one. Throws ConfigError when launched with several processes by a build
// without MPI. The MPI communicator initialises MPI here and finalises it when destroyed; there
// is one per process.
std::unique_ptr<Communicator> make_communicator(const CommunicatorOptions& options = {});

// This process's place among the processes the launcher started on the same machine: Open MPI's
// OMPI_COMM_WORLD_LOCAL_RANK / _LOCAL_SIZE, MPICH's MPI_LOCALRANKID / MPI_LOCALNRANKS, or Slurm's
// SLURM_LOCALID (whose local size is unknown: 0). Rank 0 of 1 when no launcher says. One process
// per GPU picks the GPU of its local rank, as torchrun's LOCAL_RANK is used.
struct LocalPlacement {
  int rank = 0;
  int size = 1;  // 0: unknown
};
LocalPlacement launched_local_placement();

// The communicator for buffers on `backend`'s device, over the processes of `host` (the one
// make_communicator returned): NCCL for a CUDA backend in a job of several processes, null when
// `host` itself serves (a CPU backend, or one process). Throws ConfigError for a CUDA backend in
// a multi-process job of a build without NCCL. `host` must outlive the result.
std::unique_ptr<Communicator> make_gpu_communicator(Communicator& host, KernelBackend& backend,
                                                    const CommunicatorOptions& options = {});

}  // namespace mt
