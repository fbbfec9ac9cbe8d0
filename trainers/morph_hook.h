#pragma once
// Structure learning inside the training loop: each step adds strength x (MorphNet term) to the
// loss and its gradient to the parameters, with the strength fixed or steered by a budget
// controller; the learned structure is exported as it evolves.
//
// Files written into `export_dir` (when not empty):
//   learned_structure.json                   the latest structure (MorphNet's format)
//   structure/learned_structure_<step>.json  one per export, as MorphNet's exporter keeps them
//   structure/structure_<step>.json          the richer report: alive vectors, per-op costs
#include <memory>
#include <optional>
#include <string>

#include "morph/budget_controller.h"
#include "morph/network_regularizer.h"
#include "trainers/run_logger.h"
#include "trainers/structure_learner.h"

namespace mt {

struct MorphHookOptions {
  double strength = 0;                             // fixed strength (no budget)
  std::optional<morph::BudgetOptions> budget;      // budget mode: adapts the strength
  int64_t budget_every = 1;                        // steps between controller updates
  std::string export_dir;                          // empty: no files
  int64_t export_every_steps = 0;                  // besides every epoch end (0: epochs only)
  // Apply the term as a proximal step after the optimizer's update (step lr x strength; see
  // GroupRegularizer::proximal_step) instead of through the gradient: dead channels become
  // exactly zero and stay there, where (momentum) SGD on the term's subgradient leaves them
  // oscillating around zero, above the alive threshold, and the max over a group's sources
  // pulls down only one source per step. Not for gates, whose term acts on probabilities.
  bool proximal = false;
};

class MorphHook : public StructureLearner {
 public:
  MorphHook(std::unique_ptr<morph::NetworkRegularizer> regularizer, MorphHookOptions options,
            RunLogger* logger = nullptr);

  double after_backward(Executor& exec, int64_t step) override;
  void after_step(Executor& exec, double lr) override;
  void metrics(std::vector<std::pair<std::string, double>>& out) override;
  void end_epoch(int64_t epoch) override;
  std::string state_key() const override { return "morph"; }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& state) override;
  std::string summary() const override;
  std::string cost_name() const override { return regularizer_->cost_name(); }
  double full_cost() const override { return regularizer_->full_cost(); }
  double learned_cost() const override { return cost_; }  // as of the last step
  // NB: no finish(): the structure files are written at every epoch end already.

  double strength() const { return controller_ ? controller_->strength() : options_.strength; }
  double last_cost() const { return cost_; }
  const morph::NetworkRegularizer& regularizer() const { return *regularizer_; }
  // Writes the structure files for `step` now (also called at every epoch end).
  void export_structure(int64_t step);

 private:
  std::unique_ptr<morph::NetworkRegularizer> regularizer_;
  MorphHookOptions options_;
  RunLogger* logger_;
  std::optional<morph::BudgetController> controller_;
  double full_cost_;
  double term_ = 0, cost_ = 0, strength_used_ = 0;
  int64_t step_ = 0;  // the last step seen
};

}  // namespace mt
