#pragma once
// The optimizer interface: a list of named parameters updated in place by the backend's
// sgd_step/adamw_step, with per-param state buffers allocated once, on a param's first step, and
// reused ever after (a steady-state step allocates nothing).
//
// State travels as named tensors, ready for a safetensors file:
//   "step"                         i64 []  optimizer steps taken
//   "<param>.step"                 i64 []  steps this param was updated (only params with state)
//   "<param>.momentum_buffer"      SGD with momentum
//   "<param>.exp_avg", ".exp_avg_sq"  AdamW
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "trainers/param_groups.h"

namespace mt {


class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string_view name() const = 0;  // "sgd", "adamw"

  // One update of every param that has a gradient.
  void step(KernelBackend& backend);

  // The base learning rate; a group's lr_scale multiplies it. Schedules call set_lr every step.
  double lr() const { return lr_; }
  void set_lr(double lr);
  int64_t steps() const { return steps_; }

  size_t num_params() const { return slots_.size(); }
  const ParamRef& param(size_t i) const { return slots_.at(i).ref; }
  double weight_decay_of(size_t i) const { return slots_.at(i).weight_decay; }
  double lr_scale_of(size_t i) const { return slots_.at(i).lr_scale; }
  // A param's state buffers (empty before its first step); for tests and inspection.
  const std::vector<Tensor>& state_of(size_t i) const { return slots_.at(i).buffers; }

  // Views of the live state (no copy): clone what must outlive the next step.
  NamedTensors state_dict() const;
  // All-or-nothing: every problem (missing, unexpected, mis-shaped entries) is listed in one
  // ConfigError and the current state is left as it was.
  void load_state_dict(const NamedTensors& state);

 protected:
  Optimizer(std::string_view who, std::vector<ParamRef> params, std::vector<ParamGroup> groups,
            double lr, double weight_decay);

  // Suffixes of the per-param buffers this optimizer keeps ("momentum_buffer").
  virtual std::vector<std::string> buffer_names() const = 0;
  // `step` is the param's 1-based step count; `buffers` follow buffer_names().
  virtual void update(KernelBackend& backend, const ParamRef& p, double lr, double weight_decay,
                      int64_t step, std::vector<Tensor>& buffers) = 0;

 private:
  struct Slot {
    ParamRef ref;
    double weight_decay = 0;
    double lr_scale = 1;
    int64_t step = 0;  // 0: no state yet
    std::vector<Tensor> buffers;
  };
  void allocate_state(KernelBackend& backend, Slot& slot);
  std::vector<std::string> check_state(const NamedTensors& state) const;

  std::string who_;
  std::vector<Slot> slots_;
  double lr_ = 0;
  int64_t steps_ = 0;
};

// Validation shared by the optimizers: a ConfigError "[sgd] momentum = 1.5 must be in [0, 1)".
void check_option(bool ok, std::string_view who, std::string_view field, double value,
                  std::string_view rule);

}  // namespace mt
