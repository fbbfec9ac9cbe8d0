#pragma once
// What a training step checks before its update reaches the model, beside the loss and the
// gradient norm: the batch norms' running statistics, which the forward pass has already
// updated. Checked every step, a non-finite statistic is caught at the step it appears rather
// than at the next checkpoint save; a skipped step (train.on_nonfinite: skip_step) puts the
// statistics back as they were before its forward pass, so it leaves no trace in the model.
//
// When a step goes non-finite, nonfinite_report.json in the run directory names the first tensor
// in the model's order (running statistics in forward order, then gradients) and its layer:
//
//   {"step": 3, "action": "stopped", "loss": 2.31, "first": {"layer": "bn1", "tensor":
//    "bn1.running_var", "kind": "running statistic"}, "nonfinite": [...], "count": 1}
#include <cstdint>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/executor.h"
#include "core/graph.h"

namespace mt {

struct NonfiniteTensor {
  std::string tensor;  // "bn1.running_var", "conv1.weight"
  std::string layer;   // "bn1": the name without its last component
  std::string kind;    // "running statistic" or "gradient"
};

class NonfiniteGuard {
 public:
  // `restorable`: keep a copy of the statistics before each forward pass (skip_step runs).
  NonfiniteGuard(Graph& graph, KernelBackend& backend, bool restorable);

  void before_forward();          // copies the statistics when restorable
  bool statistics_finite() const;  // one reduction per buffer, on the backend
  void restore();                 // the statistics as before_forward() saw them
  void poison_statistics();       // fault injection for tests: NaN into the first running statistic
  // Every non-finite running statistic and gradient, in the model's order.
  std::vector<NonfiniteTensor> scan(const Executor& exec) const;

 private:
  Graph& graph_;
  KernelBackend& backend_;
  bool restorable_;
  std::vector<ValueId> stats_;  // the floating-point buffers: running means and variances
  std::vector<Tensor> backup_;  // [stats_..., then the integer counters]
  std::vector<ValueId> counters_;  // num_batches_tracked: host integers
};

// Writes `run_dir`/nonfinite_report.json (whole or not at all) unless the run already has one:
// the first non-finite step of a run is the one worth reading. `action`: "stopped" or "skipped".
void write_nonfinite_report(const std::string& run_dir, int64_t step, double loss,
                            const std::vector<NonfiniteTensor>& found, const std::string& action);

// "the running statistic 'bn1.running_var' (layer bn1)", or `fallback` when nothing was found.
std::string describe_first(const std::vector<NonfiniteTensor>& found, const std::string& fallback);

}  // namespace mt
