#pragma once
// The collectives data-parallel training needs, behind one interface: which process this is
// (rank) of how many (size), sums over every process in place (allreduce), one process's bytes
// to all (broadcast), and a barrier. Backends: a single process (everything a no-op), MPI
// (trainers/mpi_communicator.h), and later NCCL for GPU buffers (whose unique id would travel
// over the MPI one's broadcast).
//
// Buffers live where the communicator's data lives: host memory for the single-process and MPI
// backends (a NCCL backend would take device pointers). Every process must call the same
// collectives in the same order with the same sizes; a collective is also a synchronisation
// point, so a process that never arrives holds the others, and a watchdog
// (trainers/collective_watchdog.h) ends the job after `timeout_s`.
#include <cstdint>
#include <memory>
#include <string>

#include "core/tensor.h"

namespace mt {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;  // "single", "mpi"

  // Element-wise sum over all processes, in place; every process ends with the same values.
  virtual void allreduce_sum(float* data, int64_t n) = 0;
  virtual void allreduce_sum(double* data, int64_t n) = 0;
  virtual void allreduce_sum(int64_t* data, int64_t n) = 0;
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

}  // namespace mt
