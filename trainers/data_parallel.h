#pragma once
// Data-parallel training over a Communicator, as Horovod and PyTorch DDP do it: every rank holds
// a replica of the model, takes its own shard of each global batch (trainers/loader.h), and
// after backward the gradients are averaged over the ranks, so every replica applies the same
// update and the weights stay bit-identical. What the Trainer asks of it:
//
//   start / resume   rank 0's params, buffers and optimizer state to every rank
//   backward         the param gradients, fused into flat buckets of `bucket_bytes`, summed by
//                    allreduce and scaled by 1 / size: with `overlap`, each bucket's allreduce
//                    starts as soon as backward has finished its gradients (begin_backward /
//                    finish_gradients), else all after backward (average_gradients)
//   metrics          sum(): the step's loss and accuracy tallies, so rank 0 logs global figures
//   BN statistics    stay per rank (each sees its own shard); sync_bn_stats averages the float
//                    buffers before every evaluation and checkpoint
//   verification     every `verify_every_steps`, a hash of the params is compared across ranks
//                    (a replica that drifted would make structure decisions of its own)
//
// With one process every call returns at once and the trainer runs exactly as without it.
//
// Two communicators: `comm` moves host memory (tallies, strings, hashes, and the model's state,
// staged through the host when it lives on a GPU); the optional `device_comm` (NCCL, from
// make_gpu_communicator) sums the gradient buckets where the gradients live. Without it `comm`
// sums them, which needs them on the host.
#include <cstdint>
#include <vector>

#include "core/executor.h"
#include "trainers/communicator.h"
#include "trainers/optimizer.h"

namespace mt {

// Rank `root`'s params and buffers into every rank's graph (same architecture on every rank).
// Tensors on a device travel through host memory, copied by `backend` (needed only then).
void broadcast_graph(Communicator& comm, Graph& graph, int root = 0, KernelBackend* backend = nullptr);

struct DataParallelOptions {
  int64_t bucket_bytes = int64_t{25} << 20;  // gradient bytes per allreduce (PyTorch DDP's 25 MiB)
  bool overlap = true;                       // allreduce buckets while backward runs
  bool sync_bn_stats = false;                // average BN running statistics before eval/checkpoint
  int64_t verify_every_steps = 0;            // compare a hash of the params across ranks (0: off)
};

class DataParallel {
 public:
  DataParallel(Communicator& comm, Graph& graph, Executor& exec, DataParallelOptions options = {},
               Communicator* device_comm = nullptr);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  Communicator& comm() { return comm_; }
  int rank() const { return comm_.rank(); }
  int size() const { return comm_.size(); }
  bool is_root() const { return comm_.is_root(); }
  const DataParallelOptions& options() const { return options_; }

  // Rank 0's params and buffers (graph state) and optimizer state on every rank.
  void broadcast_model();
  void broadcast_optimizer(Optimizer& optimizer);
  // Every param gradient := its mean over the ranks, after backward.
  void average_gradients();
  // The same, overlapped with backward:
  //   dp.begin_backward();  exec.backward(loss);  dp.finish_gradients();
  // begin_backward arms the executor's gradient-ready hook, which starts a bucket's allreduce
  // once all its gradients are final (buckets start in order, the same on every rank) while
  // backward goes on; finish_gradients waits for every bucket and writes the means back. Without
  // options.overlap begin does nothing and finish is average_gradients(). Gradients added after
  // finish (regularizers) are not averaged: they must be the same on every rank.
  void begin_backward();
  void finish_gradients();
  // The float buffers (BN running mean and variance) := their mean over the ranks, when
  // options.sync_bn_stats; else nothing.
  void sync_buffers();
  // Host values summed over the ranks, in place.
  void sum(double* values, int64_t n) { comm_.allreduce_sum(values, n); }
  // Whether every rank holds the same float buffers (true with sync_bn_stats or none at all):
  // then evaluation may be sharded, since every replica is the same model.
  bool buffers_identical() const { return size() == 1 || options_.sync_bn_stats || !has_float_buffers_; }
  // Throws Error naming `step` when the params differ between ranks; every rank throws alike.
  void verify_replicas(int64_t step);
  // When verify_every_steps says so for `step`.
  void maybe_verify(int64_t step) {
    if (size() > 1 && options_.verify_every_steps > 0 && step % options_.verify_every_steps == 0)
      verify_replicas(step);
  }
  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  // Buckets whose allreduce the last overlapped step started during backward (all of them,
  // unless a gradient was never reported).
  int64_t overlapped_buckets() const { return overlapped_; }

 private:
  struct Bucket {
    DType dtype = DType::f32;
    std::vector<ValueId> params;  // in reverse graph order
    int64_t elements = 0;
    Tensor flat;                  // [elements] on the gradients' device, allocated once
    int not_ready = 0;            // params whose gradient this backward has yet to finish
    PendingCollective pending;    // its allreduce, once started
  };

  bool overlapping() const { return size() > 1 && options_.overlap; }
  void plan_buckets();
  void on_grad_ready(ValueId param);
  void start_bucket(Bucket& b);
  void pack(Bucket& b);
  void unpack_mean(Bucket& b);
  void sum_now(Bucket& b);
  Tensor bucket_view(Bucket& b, int64_t offset, const Shape& shape);
  uint64_t params_hash() const;

  Communicator& comm_;
  Communicator& grads_comm_;  // device_comm, or comm_
  Graph& graph_;
  Executor& exec_;
  DataParallelOptions options_;
  std::vector<Bucket> buckets_;
  std::vector<int> bucket_of_;  // per value: the bucket of a param's gradient, -1 for the rest
  bool armed_ = false;          // between begin_backward and finish_gradients
  size_t started_ = 0;          // buckets whose allreduce began this step (a prefix)
  size_t known_done_ = 0;       // of those, the ones test() found finished (a prefix)
  int64_t overlapped_ = 0;
  bool has_float_buffers_ = false;
};

}  // namespace mt
