#pragma once
// A MorphNet network regularizer: one method (gamma, group_lasso, logistic_sigmoid) x one target
// (flops, model_size, latency), nine combinations behind one class.
//
//   term = sum over ops of k_in(A) x R_in + k_out(A) x R_out          (cost_model.h)
//   R_in = sum over the op's input channels of r(group of the channel), R_out likewise;
//   A    = the alive counts, held constant (a boolean has no gradient in MorphNet either);
//   r    = the group's regularization value (group_regularizer.h).
// So d term / d r_g = sum over ops of k_in x (input channels in g) + k_out x (output channels in
// g), and the chain rule through the grouping and the source values reaches the batch-norm
// scales, conv weights or gate logits. cost() is the resource of the structure the alive bits
// imply (MorphNet's get_cost).
//
// Use in training (the trainer owns the strength):
//   auto reg = morph::make_regularizer(model.graph, model.logits, options);
//   ... forward, backward ...
//   double term = reg->add_term_gradient(strength, sink);   // loss += strength x term
//   log(reg->cost(), reg->cost_name());
// Parameters are read from the graph at each call, so call after backward and before the
// optimizer step to regularize the parameters the gradients belong to.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "morph/cost_model.h"
#include "morph/group_regularizer.h"

namespace mt::morph {

struct RegularizerOptions {
  Method method = Method::gamma;
  CostTarget target = CostTarget::flops;
  double threshold = -1;         // < 0: default_threshold(method)
  double l1_fraction = 0;        // group_lasso: weight of L1 in the filter norm
  Hardware hardware = hardware_by_name("V100");  // latency
  int64_t batch_size = 1;        // latency: the batch the roofline is evaluated for
  bool count_bias = false;       // model_size: count conv/linear biases too
  // logistic_sigmoid: the regularization vector is the step's sampled mask (MorphNet's default)
  // where the caller passes the step's seeds to evaluate(), else the open probabilities.
  bool regularize_on_mask = true;
  // Where the row ops on the parameters run: the trainer's backend (morph/row_kernels.h); null:
  // host loops (a model that is only analysed, f64 graphs).
  KernelBackend* backend = nullptr;
};

// One analysed op: for reports and the structure export.
struct OpReport {
  std::string name, kind;
  double alive_in = 0, alive_out = 0;
  int64_t in = 0, out = 0;  // channel (or feature) counts as built
  double cost = 0, term = 0;
};

// Everything one evaluation of the parameters yields.
struct Evaluation {
  GroupState groups;
  std::vector<OpCost> op_costs;
  std::vector<double> op_terms;
  double term = 0, cost = 0;
};

class NetworkRegularizer {
 public:
  NetworkRegularizer(const Graph& graph, ValueId logits, const RegularizerOptions& options);

  // The scalar the trainer adds as strength x term to the loss.
  double regularization_term() const { return evaluate().term; }
  // Adds scale x d term / d param to the gradients the sink returns; returns the term. `e` is
  // evaluate()'s of the parameters as they are now (a caller that also wants the cost evaluates
  // once); without it they are read again.
  double add_term_gradient(const Evaluation& e, double scale, const GradientSink& sink) const;
  double add_term_gradient(double scale, const GradientSink& sink) const {
    return add_term_gradient(evaluate(), scale, sink);
  }
  // Applies the term as a proximal step of size `step` (learning rate x strength) to the
  // parameters in place (GroupRegularizer::proximal_step); gamma and group_lasso only.
  void proximal_step(double step) const;
  // The cost of the structure the current alive bits imply, and of the network as built.
  double cost() const { return evaluate().cost; }
  double full_cost() const { return costs_.full_cost(); }
  // Per channel group.
  std::vector<bool> group_alive() const { return evaluate().groups.alive; }
  // Per conv2d / hidden linear / batch norm / gate op: alive bit of each output channel.
  std::map<std::string, std::vector<bool>> alive_vectors() const;
  std::vector<OpReport> op_reports() const;
  // `seeds`: the training step's (Executor::node_seed), so gates are regularized on their samples.
  Evaluation evaluate(const GateSeeds* seeds = nullptr) const;

  const ChannelGroups& groups() const { return *groups_; }
  const CostModel& cost_model() const { return costs_; }
  const GroupRegularizer& group_regularizer() const { return regularizer_; }
  const RegularizerOptions& options() const { return options_; }
  std::string name() const;       // MorphNet's: "GammaFlops", "GroupLassoModelSize", ...
  std::string cost_name() const { return costs_.cost_name(); }

 private:
  // d term / d r_g for every group, the alive counts held constant.
  std::vector<double> term_by_group(const Evaluation& e) const;

  RegularizerOptions options_;
  std::unique_ptr<ChannelGroups> groups_;
  CostModel costs_;
  GroupRegularizer regularizer_;
};

// Builds the regularizer; throws ConfigError when the graph has no source for the method (no
// batch norm for gamma, no conv for group_lasso, no gate for logistic_sigmoid).
std::unique_ptr<NetworkRegularizer> make_regularizer(const Graph& graph, ValueId logits,
                                                     const RegularizerOptions& options);

}  // namespace mt::morph
