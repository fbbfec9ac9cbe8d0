#pragma once
// Runs a graph forward and backward on one backend. Buffers for every activation, gradient and
// op state are planned once per input shape and reused, so a steady-state training step asks the
// allocator for nothing.
#include <deque>
#include <string>
#include <vector>

#include "core/graph.h"

namespace mt {

class Executor {
 public:
  struct Options {
    bool input_grads = false;  // also compute gradients of the graph's float inputs (gradcheck)
    bool profile = false;      // time every node (also on with MORPHTRAIN_PROFILE=1)
  };

  Executor(Graph& graph, KernelBackend& backend) : Executor(graph, backend, Options{}) {}
  Executor(Graph& graph, KernelBackend& backend, Options options);

  // One tensor per graph input, in graph order, with the batch dimension first. Feeds are copied
  // into planned buffers in the backend's layout.
  void forward(const std::vector<Tensor>& feeds, Mode mode);
  // Reverse pass from a scalar value (the loss), seeded with d loss = 1.
  void backward(ValueId loss);

  const Tensor& value(ValueId v) const;
  // Gradient of a value after backward(); params always have one.
  const Tensor& grad(ValueId v) const;
  bool requires_grad(ValueId v) const { return requires_grad_[v]; }

  Graph& graph() { return graph_; }
  KernelBackend& backend() { return backend_; }
  void set_seed(uint64_t seed) { seed_ = seed; }
  // Shapes of every value for the current plan.
  const std::vector<Shape>& shapes() const { return shapes_; }
  // Seconds spent per op kind, forward and backward, since profiling started: a table sorted by
  // total time (empty unless profiling).
  std::string profile_report() const;

 private:
  void plan(const std::vector<Tensor>& feeds);
  Tensor allocate_like_value(ValueId v, const Shape& shape) const;
  OpContext context(int node, Mode mode);

  Graph& graph_;
  KernelBackend& backend_;
  Options options_;
  std::vector<bool> requires_grad_;
  std::vector<Shape> planned_feed_shapes_;
  std::vector<Shape> shapes_;
  std::vector<Tensor> values_;      // activations and fed inputs (params/buffers live in the graph)
  std::vector<Tensor> grads_;
  std::vector<Tensor> scratch_;     // second gradient buffer for values read by several nodes
  std::vector<std::deque<Tensor>> node_state_;
  std::vector<bool> grad_written_;
  Mode last_mode_ = Mode::eval;
  bool forward_done_ = false;
  std::vector<double> forward_seconds_, backward_seconds_;  // per node, when profiling
  uint64_t seed_ = 0;
  uint64_t step_ = 0;
};

}  // namespace mt
