#pragma once
// ResRep inside the training loop (morph/resrep.h): after each backward the compactor gradients
// get their penalty (masked rows: the penalty alone); after each update the mask grows when the
// schedule says so. The masks are the hook's state, so a resumed run keeps them.
//
// Files written into `export_dir` (when not empty), at every mask update and epoch end:
//   learned_structure.json   {"conv": unmasked output channels} (MorphNet's format)
//   resrep_masks.json        the masked channel groups: ids, names, cost before and after
#include <memory>
#include <string>

#include "morph/resrep.h"
#include "trainers/run_logger.h"
#include "trainers/structure_learner.h"

namespace mt {

class ResRepHook : public StructureLearner {
 public:
  ResRepHook(std::unique_ptr<morph::ResRep> resrep, std::string export_dir = {}, RunLogger* logger = nullptr);

  double after_backward(Executor& exec, int64_t step) override;
  void after_step(Executor& exec, double lr) override;
  void metrics(std::vector<std::pair<std::string, double>>& out) override;
  void end_epoch(int64_t epoch) override;
  std::string state_key() const override { return "resrep"; }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& state) override;
  std::string summary() const override;
  std::string cost_name() const override { return resrep_->cost_model().cost_name(); }
  double full_cost() const override { return resrep_->full_cost(); }
  double learned_cost() const override { return resrep_->cost(); }
  // resrep_masks.json: what the merge (and a resumed pipeline) reads.
  void finish() override { export_structure(); }

  const morph::ResRep& resrep() const { return *resrep_; }
  // The masks as JSON (resrep_masks.json's content).
  nlohmann::json masks_json() const;
  void export_structure() const;

 private:
  std::unique_ptr<morph::ResRep> resrep_;
  std::string export_dir_;
  RunLogger* logger_;
  double full_cost_, cost_, penalty_ = 0;
  int64_t step_ = 0;  // steps completed, as of the last after_backward
};

}  // namespace mt
