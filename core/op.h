#pragma once
// An op of the model graph: its shape rule, its forward and, right beside it, its backward, both
// calling whichever KernelBackend the executor runs on. Layers create ops; they never implement
// backward themselves.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/backend.h"
#include "core/op_kind.h"

namespace mt {

enum class Mode : uint8_t { train, eval };

// What an input of an op is for, so that passes ask for "the batch norm's running mean" rather
// than for input 3 (Graph's input_of finds it).
enum class InputRole : uint8_t {
  data,          // an activation (or the images)
  weight,        // conv / linear / compactor filters; batch norm's scale
  bias,          // conv / linear bias; batch norm's shift
  running_mean,  // batch norm buffers
  running_var,
  num_batches_tracked,
  logits,        // a gate's per-channel log odds
  labels,        // the loss's targets
};

// What the executor hands an op for one call. Tensors it does not need are undefined.
struct OpContext {
  KernelBackend& backend;
  Mode mode;
  uint64_t seed;                        // fresh per step (dropout, gates)
  bool fused_relu = false;              // the op's output is relu(op(...)): see Op::fuses_relu
  std::vector<const Tensor*> inputs;    // values in input order
  std::vector<Tensor*> outputs;
  // Per-node tensors that persist between calls. A deque, so that growing it (state_at) never
  // moves a slot an op already holds a reference to.
  std::deque<Tensor>& state;
  // backward only:
  std::vector<const Tensor*> doutputs;  // gradients of the outputs
  std::vector<Tensor*> dinputs;         // gradients to write; null where not needed

  const Tensor& in(size_t i) const { return *inputs[i]; }
  Tensor& out(size_t i) const { return *outputs[i]; }
  const Tensor& dout(size_t i) const { return *doutputs[i]; }
  bool wants_dinput(size_t i) const { return i < dinputs.size() && dinputs[i] != nullptr; }
  Tensor& din(size_t i) const { return *dinputs[i]; }
  Tensor& state_at(size_t i) const {
    if (state.size() <= i) state.resize(i + 1);
    return state[i];
  }
};

class Op {
 public:
  virtual ~Op() = default;
  // The op's kind: the row every pass's table looks up (core/op_kind.h).
  virtual OpKind kind() const = 0;
  // The kind's name, for messages, summaries and profiles; an OpKind::custom op says what it is.
  virtual std::string kind_name() const { return std::string(op_kind_name(kind())); }
  // What input `index` is for (data unless the op says otherwise).
  virtual InputRole input_role(size_t /*index*/) const { return InputRole::data; }
  virtual int num_outputs() const { return 1; }
  // Output shapes from input shapes; throws ShapeError naming the op on a mismatch.
  virtual std::vector<Shape> infer_shapes(const std::vector<Shape>& inputs) const = 0;
  virtual void forward(OpContext& ctx) const = 0;
  virtual void backward(OpContext& ctx) const = 0;
  // Whether the op can apply a following ReLU itself (ctx.fused_relu), saving a pass over memory.
  virtual bool fuses_relu() const { return false; }
  // Inputs through which no gradient flows (labels, running statistics).
  virtual bool differentiable_input(int /*index*/) const { return true; }
  // Whether backward reads the data of input `index` / of output `index` (fused: with the ReLU
  // of fuses_relu). The executor keeps a value for backward only where some op says yes, and
  // reuses its memory after its last forward reader otherwise. Shapes may always be read. An op
  // that says no must not read the data: the default says yes.
  virtual bool backward_reads_input(size_t /*index*/) const { return true; }
  virtual bool backward_reads_output(size_t /*index*/, bool /*fused_relu*/) const { return true; }
  // Whether backward may run recompute() for this op's output instead of keeping it from forward:
  // recompute must write the same values bit for bit, read only inputs the op's own backward
  // reads (so they are still held) and the node's state, and change nothing else.
  virtual bool recomputable(const KernelBackend& /*backend*/) const { return false; }
  virtual void recompute(OpContext& /*ctx*/) const {
    MT_FAIL(BackendError, "[", kind_name(), "] cannot recompute its output");
  }
  // Whether outputs keep the 4-D activation layout of the backend (false: row-major, e.g. [N, K]).
  virtual bool activation_output() const { return true; }
  // Attributes for export, summaries and the YAML graph format.
  virtual nlohmann::json attributes() const { return nlohmann::json::object(); }
  // Multiply-accumulates of one forward pass.
  virtual int64_t macs(const std::vector<Shape>& /*inputs*/, const std::vector<Shape>& /*outputs*/) const {
    return 0;
  }
};

using OpPtr = std::shared_ptr<const Op>;

}  // namespace mt
