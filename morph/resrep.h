#pragma once
// ResRep's "Res" (Ding et al., ICCV 2021, arXiv 2007.03260; DingXiaoH/ResRep rr/): training with
// compactors, their penalty gradients and a growing mask.
//
// The model carries a compactor after every conv-BN it may prune (ModelOptions::compactors). The
// whole model trains with ordinary SGD; after each backward, for every compactor row i of a
// prunable channel group (compactors.h):
//   grad_i <- m_i x grad_i + lambda_i x Q_i / ||Q_i||           (rr/resrep_train.py train_one_step)
// with m_i = 0 when the row's group is masked, else 1, and lambda_i ResRep's one lambda (or, if
// set, a larger one for masked rows: ResRepOptions::masked_lasso_strength). The penalty acts on every row, masked or
// not; a masked row keeps only the penalty and decays to zero. A zero row gets no penalty (the
// subgradient 0 where ResRep would divide by zero).
//
// The mask grows on a schedule (rr/resrep_util.py resrep_mask_model): after `warmup_steps`, every
// `mask_interval` steps, up to `mask_step` more groups are masked, best-ranked first, until the
// cost of the unmasked structure is at most target_fraction x the dense cost. Ranking:
//   norm           the group's compactor row norm, sqrt(sum of ||Q_i||^2 over its rows) (ResRep's
//                  metric; for one compactor, its row norm)
//   norm_per_cost  that norm divided by the cost the group saves, given the current masks
//                  (cheap-to-keep channels survive; a group that saves nothing is never chosen)
// A group whose removal would leave some value without channels is skipped (ResRep's
// num_at_least = 1). Masks are sticky: ResRep recomputes the masked set from scratch at each
// update, but a masked row only decays, so it keeps its place at the bottom of the ranking.
//
// Defaults are ResRep's CIFAR and ImageNet settings (rr/exp_resrep.py): lambda 1e-4, a mask
// update every 200 steps, 4 channels per update; its warm-up is 5 epochs, and its optimizer
// uses momentum 0.99 and no weight decay on the compactors (the trainer's concern).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "morph/channel_selection.h"
#include "morph/compactors.h"
#include "morph/cost_model.h"
#include "morph/group_regularizer.h"

namespace mt::morph {

enum class ResRepRanking : uint8_t { norm, norm_per_cost };
// "norm", "norm_per_cost"; throws ConfigError otherwise.
ResRepRanking parse_resrep_ranking(const std::string& name);
std::string resrep_ranking_name(ResRepRanking r);

struct ResRepOptions {
  double lasso_strength = 1e-4;  // lambda
  // lambda on masked rows; < 0: lasso_strength (ResRep's single lambda). A short schedule needs a
  // masked row to forget faster than the paper's 1e-4 allows (it would keep most of its norm, and
  // the merge would drop a channel still in use) without pressing the same strength on the rows
  // the network keeps.
  double masked_lasso_strength = -1;
  int64_t warmup_steps = 0;      // steps before the first mask update is due
  int64_t mask_interval = 200;   // steps between mask updates
  int64_t mask_step = 4;         // groups masked per update at most
  double target_fraction = 0.5;  // stop masking at cost <= target_fraction x dense cost
  ResRepRanking ranking = ResRepRanking::norm_per_cost;
  CostOptions cost;              // the resource (FLOPs by default)
  KernelBackend* backend = nullptr;  // where the row ops on the compactors run (row_kernels.h)
};

// Throws ConfigError naming the first invalid field.
void validate(const ResRepOptions& o);

class ResRep {
 public:
  // Throws ConfigError when the graph has no compactor or no prunable group.
  ResRep(const Graph& graph, ValueId logits, ResRepOptions options);

  const ChannelGroups& groups() const { return *groups_; }
  const CostModel& cost_model() const { return costs_; }
  const ResRepOptions& options() const { return options_; }
  const std::vector<CompactorInfo>& compactors() const { return compactors_; }

  bool prunable(int g) const { return prunable_.at(g); }
  int num_prunable() const;
  const std::vector<bool>& masked() const { return masked_; }
  int num_masked() const;
  // Restores masks (a resume); ShapeError for a wrong length or a masked unprunable group.
  void set_masked(const std::vector<bool>& masked);

  // Per group: sqrt(sum over its compactor rows of ||Q_i||^2); 0 for groups without rows.
  std::vector<double> group_norms() const;
  // Per group: the cost masking it would save on top of the current masks (0 if masked).
  std::vector<double> group_savings() const;

  // The Res update of the compactor gradients (see above), on the gradients the sink returns
  // (null: leave that compactor's gradient alone). Returns lambda x the sum of the penalised
  // row norms, the loss term whose gradient the penalty is.
  double add_penalty_gradient(const GradientSink& sink) const;

  // Whether a mask update is due once `completed_steps` steps have finished.
  bool mask_due(int64_t completed_steps) const;
  // Masks up to mask_step more groups; returns them (empty once the target is met or nothing is
  // left to mask).
  std::vector<int> mask_more();
  bool target_reached() const { return cost() <= options_.target_fraction * full_cost(); }

  // The cost of the unmasked structure, and of the dense model (compactors cost nothing: they
  // are merged away).
  double cost() const { return costs_.cost(alive()); }
  double full_cost() const { return costs_.full_cost(); }
  std::vector<bool> alive() const;
  // One copy of every unmasked group: the structure the merge builds.
  ChannelSelection selection() const;
  // {"conv name": unmasked output channels} for every conv2d that is not depthwise, keys sorted
  // (MorphNet's learned_structure.json).
  nlohmann::json learned_structure() const;
  // Sets the masked rows of every compactor to exactly zero (what the merge assumes).
  void zero_masked_rows(Graph& graph) const;

 private:
  // An op's cost that depends on a group: how many of its input and output channels it holds.
  struct OpShare {
    int op;
    double in, out;
  };
  // A value's channels in a group.
  struct ValueShare {
    int value;  // index into value_total_
    int64_t count;
  };
  void index_groups();
  bool would_empty(int g, const std::vector<int64_t>& value_alive) const;
  std::vector<int64_t> value_alive() const;
  std::vector<double> rank_scores() const;
  // Per compactor, per row of its weight: the row's sums (one wait for the device).
  std::vector<std::vector<RowSums>> compactor_sums() const;

  const Graph& graph_;
  ResRepOptions options_;
  std::unique_ptr<ChannelGroups> groups_;
  CostModel costs_;
  std::vector<CompactorInfo> compactors_;
  std::vector<bool> prunable_, masked_;
  std::vector<std::vector<OpShare>> group_ops_;       // per group
  std::vector<std::vector<ValueShare>> group_values_; // per group
  std::vector<int64_t> value_total_;                  // per analysed value: its channels
};

}  // namespace mt::morph
