#pragma once
// Data-parallel training over a Communicator, as Horovod and PyTorch DDP do it: every rank holds
// a replica of the model, takes its own shard of each global batch (trainers/loader.h), and
// after backward the gradients are averaged over the ranks, so every replica applies the same
// update and the weights stay bit-identical. What the Trainer asks of it:
//
//   start / resume   rank 0's params, buffers and optimizer state to every rank
//   after backward   average_gradients(): the param gradients, fused into flat buckets of
//                    `bucket_bytes`, summed by allreduce and scaled by 1 / size
//   metrics          sum(): the step's loss and accuracy tallies, so rank 0 logs global figures
//   BN statistics    stay per rank (each sees its own shard); sync_bn_stats averages the float
//                    buffers before every evaluation and checkpoint
//   verification     every `verify_every_steps`, a hash of the params is compared across ranks
//                    (a replica that drifted would make structure decisions of its own)
//
// With one process every call returns at once and the trainer runs exactly as without it.
//
// NB: the gradients are averaged after the whole backward pass, not bucket by bucket while it
// runs: the executor has no per-parameter "gradient ready" callback. The buckets are cut in
// reverse graph order, the order backward finishes them, so that overlap can be added there.
#include <cstdint>
#include <vector>

#include "core/executor.h"
#include "trainers/communicator.h"
#include "trainers/optimizer.h"

namespace mt {

// Rank `root`'s params and buffers into every rank's graph (same architecture on every rank).
void broadcast_graph(Communicator& comm, Graph& graph, int root = 0);

struct DataParallelOptions {
  int64_t bucket_bytes = int64_t{25} << 20;  // gradient bytes per allreduce (PyTorch DDP's 25 MiB)
  bool sync_bn_stats = false;                // average BN running statistics before eval/checkpoint
  int64_t verify_every_steps = 0;            // compare a hash of the params across ranks (0: off)
};

class DataParallel {
 public:
  DataParallel(Communicator& comm, Graph& graph, Executor& exec, DataParallelOptions options = {});

  Communicator& comm() { return comm_; }
  int rank() const { return comm_.rank(); }
  int size() const { return comm_.size(); }
  bool is_root() const { return comm_.is_root(); }
  const DataParallelOptions& options() const { return options_; }

  // Rank 0's params and buffers (graph state) and optimizer state on every rank.
  void broadcast_model();
  void broadcast_optimizer(Optimizer& optimizer);
  // Every param gradient := its mean over the ranks.
  void average_gradients();
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

 private:
  struct Bucket {
    DType dtype = DType::f32;
    std::vector<ValueId> params;  // in reverse graph order
    int64_t elements = 0;
    Tensor flat;                  // [elements], allocated once
  };

  void plan_buckets();
  uint64_t params_hash() const;

  Communicator& comm_;
  Graph& graph_;
  Executor& exec_;
  DataParallelOptions options_;
  std::vector<Bucket> buckets_;
  bool has_float_buffers_ = false;
};

}  // namespace mt
