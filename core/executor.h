#pragma once
// Runs a graph forward and backward on one backend. Buffers for every activation, gradient and
// op state are planned once per input shape and kept (a few shapes at a time: training and
// evaluation batches alternate), so a steady-state step asks the allocator for nothing. The
// activations and activation gradients of a plan live in one arena, packed by their lifetimes
// (core/memory_plan.h): a value lives until its last reader, and in training until the last
// backward that reads it (Op::backward_reads_input/output); a gradient from its first writer to
// its producer's backward.
// The graph's inputs and outputs (the loss, the logits) keep their buffers for the whole step.
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/graph.h"
#include "core/memory_plan.h"

namespace mt {

class Executor {
 public:
  struct Options {
    bool input_grads = false;  // also compute gradients of the graph's float inputs (gradcheck)
    bool profile = false;      // time every node (MORPHTRAIN_PROFILE=1 turns it on in tools/)
    int max_plans = 4;         // input shapes whose buffers are kept at once
    // Run a ReLU that is the only reader of a batch norm's or an add's output inside that op
    // (one pass over memory fewer). The graph is unchanged; value() of the fused op's output
    // then returns the ReLU's output, which shares its buffer.
    bool fuse_relu = true;
    // In eval mode, run a convolution whose only reader is a batch norm as one call with the
    // batch norm folded in. The conv's own output is then not written in eval mode.
    bool fold_batchnorm = true;
    // In forward-only evaluation plans, run a residual add whose input comes from such a folded
    // convolution inside that convolution (a sum epilogue), writing over the add's other input,
    // which nothing reads after the add: one pass over memory fewer per residual block. (A
    // training plan that serves an evaluation batch runs the add as its own op.)
    bool fold_residual = true;
    // Pack the step's buffers by lifetime (core/memory_plan.h): a value's memory is reused once
    // nothing will read it again (in training: once the last backward that reads it has run, or
    // after its last forward reader where no backward does: value() then refuses it), and so is
    // an activation gradient's once it has been passed on. value() and grad() then refuse a value
    // whose buffer has been reused. false: every buffer is kept for the whole step.
    bool reuse_memory = true;
    // In training (with reuse_memory), drop an output whose op can recompute it (a batch norm:
    // Op::recomputable) after its last forward reader, and recompute it, the same bits, just
    // before the first backward that reads it (the next convolution's weight gradient, the fused
    // ReLU's mask). One pass over memory per batch norm more; one buffer fewer held across the
    // step. Skipped where the backend cannot (KernelBackend::recomputes_batchnorm).
    bool recompute = true;
  };

  // What a step's buffers take for inputs of `batch` samples (the activations, and in training
  // their gradients and scratch too; parameters, their gradients and op state not included):
  // packed by lifetime as forward would, and without reuse.
  struct MemoryReport {
    int64_t planned_bytes = 0;    // the arena forward allocates
    int64_t unpacked_bytes = 0;   // every buffer on its own
    int64_t value_bytes = 0;      // the activations alone, unpacked
    // Training: the activations kept from forward for backward, all alive when forward ends (a
    // floor; recomputed values are not kept).
    int64_t kept_bytes = 0;
    std::vector<BufferLife> lives;  // every buffer's size and lifetime, and where it is placed
    PackedBuffers packed;
  };
  MemoryReport plan_memory(int64_t batch, bool training) const;

  Executor(Graph& graph, KernelBackend& backend) : Executor(graph, backend, Options{}) {}
  Executor(Graph& graph, KernelBackend& backend, Options options);

  // One tensor per graph input, in graph order, with the batch dimension first. Feeds are copied
  // into planned buffers in the backend's layout.
  void forward(const std::vector<Tensor>& feeds, Mode mode);
  // Reverse pass from a scalar value (the loss), seeded with d loss = 1.
  void backward(ValueId loss);

  // Called by backward() once per parameter as soon as its gradient is final: right after the
  // backward of the last node (in reverse order) that reads it, so that data-parallel training
  // can start averaging a bucket of gradients while the rest of the pass runs. Parameters that no
  // node reads, or that no path from the loss reached (their gradient is zeroed), are reported at
  // the end of the pass. On a device backend "final" means queued: the kernels that write the
  // gradient are on the backend's stream. An empty function removes the hook.
  using GradReadyHook = std::function<void(ValueId param)>;
  void set_grad_ready_hook(GradReadyHook hook) { grad_ready_hook_ = std::move(hook); }

  const Tensor& value(ValueId v) const;
  // Gradient of a value after backward(). A parameter's gradient tensor is one object for the
  // executor's lifetime, whatever the input shape, so an optimizer may keep a pointer to it.
  const Tensor& grad(ValueId v) const;
  // A parameter's gradient, writable: regularizers add their own gradient to it after backward.
  Tensor& param_grad(ValueId p);
  bool requires_grad(ValueId v) const { return requires_grad_[v]; }

  Graph& graph() { return graph_; }
  KernelBackend& backend() { return backend_; }
  // Random ops (dropout, gates) of the n-th forward pass after set_seed draw from (seed, n, node)
  // alone: a trainer that sets a per-step seed replays a step exactly, resumed or not.
  void set_seed(uint64_t seed) {
    seed_ = seed;
    forwards_since_seed_ = 0;
  }
  // The seed node n drew from in the latest forward pass (and its backward): a regularizer on
  // the sampled gates (morph/group_regularizer.h) recomputes the step's samples from it.
  uint64_t node_seed(int n) const {
    return seed_ ^ (0x9E3779B97F4A7C15ull * forwards_since_seed_) ^ (0xD1B54A32D192ED03ull * (n + 1));
  }
  // Shapes of every value for the current input shape.
  const std::vector<Shape>& shapes() const;
  // Seconds spent per op kind, forward and backward, since profiling started: a table sorted by
  // total time (empty unless profiling).
  std::string profile_report() const;
  // Milliseconds per call of every node, slowest first (at most `top` rows), with each node's
  // input and output shapes: where a model's time goes layer by layer.
  std::string profile_nodes_report(int top = 30) const;

 private:
  // The buffers of one input shape.
  struct Plan {
    std::vector<Shape> feed_shapes;
    std::vector<Shape> shapes;
    bool training = false;        // planned for forward and backward (else forward only)
    Tensor arena;                 // the memory every view below lives in
    std::vector<Tensor> values;   // activations and fed inputs (params/buffers live in the graph)
    std::vector<Tensor> grads;    // of activations and inputs (training plans)
    std::vector<Tensor> scratch;  // second gradient buffer for values read more than once
    std::vector<Tensor> recomputed;  // where backward recomputes a value (Options::recompute)
    std::vector<int> value_end, grad_end;  // the last step time each buffer is held
    int clock = 0;                // the step time reached: after forward or after backward
    std::vector<std::deque<Tensor>> node_state;
    uint64_t last_used = 0;
  };
  // The step's buffers and what each one holds.
  enum class BufferRole : uint8_t { value, grad, scratch, recomputed };
  struct StepBuffers {
    std::vector<BufferLife> lives;
    std::vector<std::pair<BufferRole, ValueId>> owners;
  };
  StepBuffers step_buffers(const std::vector<Shape>& shapes, bool training) const;
  Layout value_layout(ValueId v, const Shape& shape) const;
  int step_end() const { return 2 * static_cast<int>(graph_.nodes().size()); }

  void plan_relu_fusion();
  void plan_batchnorm_folding();
  void plan_backward_reads();
  void plan_residual_folding();
  // The value whose buffer v's lives in (v itself if its own): a fused ReLU's output is its
  // input's; in forward-only plans a folded residual add's output is its other input's.
  ValueId buffer_root(ValueId v, bool training) const;
  Plan& plan_for(const std::vector<Tensor>& feeds, bool training);
  void check_feeds(const std::vector<Tensor>& feeds) const;
  std::unique_ptr<Plan> make_plan(const std::vector<Tensor>& feeds, bool training);
  void assign_dtypes();
  Tensor& grad_slot(ValueId v);
  // backward: hand out the recomputed buffers of values backward recomputes.
  OpContext context(int node, Mode mode, bool backward = false);
  void backward_node(int n, Plan& plan);
  void recompute_node(int n);
  void report_final_grads(int n);
  void finish_param_grads();

  Graph& graph_;
  KernelBackend& backend_;
  Options options_;
  std::vector<bool> requires_grad_;
  std::vector<int> uses_;                  // how many node inputs read each value
  std::vector<std::vector<ValueId>> last_read_by_;  // per node: the params no earlier node reads
  std::vector<bool> read_by_a_node_;       // per value
  std::vector<bool> fused_relu_;           // per node: runs the ReLU that follows it
  std::vector<int> absorbed_into_;         // per node: the node that runs this ReLU, or -1
  std::vector<ValueId> alias_of_;          // per value: the value whose buffers it shares, or -1
  std::vector<int> bn_after_conv_;         // per conv node: the batch norm folded into it, or -1
  std::vector<bool> folded_in_eval_;       // per node: a batch norm its conv runs in eval mode
  std::vector<int> residual_add_of_;       // per conv node: the add it runs in forward-only plans, or -1
  std::vector<bool> add_in_conv_;          // per node: an add its conv runs in forward-only plans
  std::vector<ValueId> eval_alias_;        // per value: the buffer a folded add's output takes over
  // Training: per value (aliases by their root), the latest step time a backward reads it (-1:
  // none), and the step time backward recomputes it (-1: kept from forward); per node, the nodes
  // whose outputs are recomputed just before its backward.
  std::vector<int> read_backward_, recompute_at_;
  std::vector<std::vector<int>> recompute_before_;
  std::vector<Tensor> param_grads_;        // shape-independent, shared by all plans
  std::vector<std::unique_ptr<Plan>> plans_;
  Plan* current_ = nullptr;
  std::vector<bool> grad_written_;
  GradReadyHook grad_ready_hook_;
  std::vector<double> forward_seconds_, backward_seconds_;  // per node, when profiling
  int64_t profiled_forwards_ = 0, profiled_backwards_ = 0;
  Mode last_mode_ = Mode::eval;
  bool forward_done_ = false;
  uint64_t seed_ = 0;
  uint64_t plan_clock_ = 0;           // orders plans by last use
  uint64_t forwards_since_seed_ = 0;
};

}  // namespace mt
