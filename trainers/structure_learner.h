#pragma once
// Structure learning as a training run sees it, whatever the method: MorphNet's regularizers
// (gamma, group lasso, FiGS gates: MorphHook) and ResRep (ResRepHook) are its two
// implementations. It hooks into every step (TrainHook), reports the cost of what it has learned
// so far, and leaves the files from which the slim model is built. How that model is built
// (reshape, or merge) is the method's own step in tools/slim_method.h.
#include <string>

#include "trainers/train_hook.h"

namespace mt {

class StructureLearner : public TrainHook {
 public:
  // One line for the log: the method, its target, the dense cost.
  virtual std::string summary() const = 0;
  // The resource the method counts ("FLOPs", "V100 Latency", ...), its value for the dense
  // model, and for the structure learned so far.
  virtual std::string cost_name() const = 0;
  virtual double full_cost() const = 0;
  virtual double learned_cost() const = 0;
  // After the last step: writes whatever the slimming step reads besides the weights.
  virtual void finish() {}
};

}  // namespace mt
