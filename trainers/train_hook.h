#pragma once
// What a training loop lets others add to a step without knowing about them: structure learning
// adds its regularization term and gradient here, and reports its cost in the step's metrics.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/executor.h"

namespace mt {

class TrainHook {
 public:
  virtual ~TrainHook() = default;
  // After backward, before the non-finite check and the update: may add to the parameter
  // gradients (through `exec`) and returns what it added to the loss (0 for nothing).
  virtual double after_backward(Executor& exec, int64_t step) = 0;
  // After the optimizer's update of this step (not called for a skipped step), at learning rate `lr`.
  virtual void after_step(Executor& /*exec*/, double /*lr*/) {}
  // Numbers for this step's metrics line and TensorBoard scalars (names without spaces).
  virtual void metrics(std::vector<std::pair<std::string, double>>& /*out*/) {}
  // After each epoch's evaluation, before its checkpoint. `epoch` is 1-based.
  virtual void end_epoch(int64_t /*epoch*/) {}
  // Whatever must survive a resume (a controller's strength), under `state_key()` of the
  // checkpoint's trainer state.
  virtual std::string state_key() const { return {}; }
  virtual nlohmann::json state() const { return nullptr; }
  virtual void load_state(const nlohmann::json& /*state*/) {}
};

}  // namespace mt
