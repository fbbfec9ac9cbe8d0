#pragma once
// The regularization vector and alive vector of every channel group, for one method (MorphNet's
// op_regularizers/ + grouping regularizers), computed on the host from per-channel sums of the
// parameter tensors that the params' own device produces (morph/row_kernels.h).
//
// Per source channel (one output channel of one op):
//   gamma             v = |gamma_c|                                  (GammaL1Regularizer)
//   group_lasso       v = (1 - f) x sqrt(mean(W_c^2)) + f x mean(|W_c|)  over the c-th output
//                     filter W_c of the conv (the c-th row of a linear); f = l1_fraction
//                     (GroupLassoRegularizer: means, not sums)
//   logistic_sigmoid  v = g_c, the mask the training step sampled (ProbGatingRegularizer's default,
//                     regularize_on_mask = true), when evaluate() is given the step's node seeds:
//                     the host recomputes the sample from the logit and the seed (gate_value in
//                     core/backend.h), so d v / d logit is the sample's own derivative, whose mean
//                     over the noise is the probability's. Otherwise (regularize_on_mask = false,
//                     or no step to take the sample of) v = p_c = sigmoid(logit_c).
//                     Channel 0 of a gate that keeps it open: v = 1, constant.
// A source channel is alive when v > threshold; for gates v is always the probability p_c here
// (not a sample, so the structure does not change with the noise of one step).
//
// Per group, over its sources of the method's kind:
//   gamma, group_lasso  r = max_s v_s, alive = any source alive     (MaxGroupingRegularizer)
//   logistic_sigmoid    r = 1 - prod_s (1 - p_s), alive = any       (ProbabilisticGroupingRegularizer)
// A group without sources of that kind is not regularized: r = 0 and always alive
// (ConstantOpRegularizer).
#include <array>
#include <functional>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/tensor.h"
#include "core/ops/gate.h"
#include "morph/channel_groups.h"
#include "morph/row_kernels.h"

namespace mt::morph {

enum class Method : uint8_t { gamma, group_lasso, logistic_sigmoid };

// "gamma", "group_lasso", "logistic_sigmoid"; throws ConfigError otherwise.
Method parse_method(const std::string& name);
std::string method_name(Method m);      // "gamma", ...
std::string method_prefix(Method m);    // MorphNet's class prefix: "Gamma", "GroupLasso", "LogisticSigmoid"
SourceKind source_kind(Method m);
// gamma 1e-3 (MorphNet's slim example), group_lasso 1e-2 (its Keras example), logistic_sigmoid
// 0.5 on the probability (FiGS keeps a channel at inference when its logit > 0; MorphNet's 0.1
// applies to the sampled mask, which the host does not see).
double default_threshold(Method m);

// The seed each gate node drew its sample from in the step just taken (Executor::node_seed).
using GateSeeds = std::function<uint64_t(int node)>;

// The gradient tensor of a parameter (f32 or f64, row-major, the parameter's shape), or null to
// leave that parameter alone.
using GradientSink = std::function<Tensor*(ValueId param)>;

struct GroupState {
  std::vector<double> reg;        // per group: r (0 where not regularized)
  std::vector<bool> alive;        // per group
  std::vector<bool> regularized;  // per group: has sources of the method's kind
  // Per parameter (as params() lists them), per channel: the sums the values were computed from;
  // backprop and proximal_step of the same parameters reuse them instead of reading them again.
  std::vector<std::vector<RowSums>> sums;
  // logistic_sigmoid on the mask: per parameter, per channel, the step's gate sample (empty
  // otherwise).
  std::vector<std::vector<GateValue>> samples;
};

class GroupRegularizer {
 public:
  // backend: where the row ops on the parameters run (morph/row_kernels.h); null: host loops.
  // regularize_on_mask: logistic_sigmoid's regularization vector is the sampled mask when evaluate()
  // gets the step's seeds.
  GroupRegularizer(const ChannelGroups& groups, Method method, double threshold, double l1_fraction = 0,
                   KernelBackend* backend = nullptr, bool regularize_on_mask = true);

  Method method() const { return method_; }
  double threshold() const { return threshold_; }
  // Reads the parameters from the graph now. `seeds`: the training step's, for the gates' samples.
  GroupState evaluate(const GateSeeds* seeds = nullptr) const;
  // Adds scale x sum_g dterm_dreg[g] x d r_g / d param to the parameters' gradients. `state` is
  // evaluate()'s of the parameters as they are now; without it they are read again.
  void backprop(const GroupState& state, const std::vector<double>& dterm_dreg, double scale,
                const GradientSink& sink) const;
  void backprop(const std::vector<double>& dterm_dreg, double scale, const GradientSink& sink) const {
    backprop(evaluate(), dterm_dreg, scale, sink);
  }
  // The proximal step of step x sum_g dterm_dreg[g] x r_g, applied to the parameters in place
  // (gamma and group_lasso; logistic_sigmoid has none). For one group with source values v_s
  // (|gamma| or a filter's RMS over n_s elements) and lambda = step x dterm_dreg[g], the prox of
  // lambda x max_s v_s clips every source above a common level tau to tau, where tau solves
  //   sum_s n_s x max(v_s - tau, 0) = lambda,   and tau = 0 when sum_s n_s x v_s <= lambda,
  // so a whole group dies at once when the pull outweighs all of it. (Exact for l1_fraction 0;
  // the L1 part of a mixed filter norm is shrunk by the same factor.)
  void proximal_step(const GroupState& state, const std::vector<double>& dterm_dreg, double step) const;
  void proximal_step(const std::vector<double>& dterm_dreg, double step) const {
    proximal_step(evaluate(), dterm_dreg, step);
  }
  // Whether any group has a source of the method's kind.
  bool has_sources() const;
  // The parameters the term depends on.
  std::vector<ValueId> params() const;

 private:
  // Per param (as indexed in params_), per channel: the sums of its row of the param viewed as
  // [C, n]; one wait for the device.
  std::vector<std::vector<RowSums>> param_sums() const;
  // The value deciding whether source channel c of param pi is alive, from its sums.
  double value(int pi, int64_t c, const RowSums& s) const;
  // The source's entry of the regularization vector: value(), or the step's gate sample.
  double reg_value(const GroupState& state, int pi, int64_t c) const;
  // Adds upstream x d reg_value / d channel to the channel's row_update coefficients.
  void add_value_grad(const GroupState& state, int pi, int64_t c, double upstream,
                      std::array<double, 4>& coef) const;
  // Whether source channel c of param pi is a gate's channel 0 that is always open.
  bool always_open(int pi, int64_t c) const { return c == 0 && gates_[pi] && gates_[pi]->keep_first_channel(); }

  const ChannelGroups& groups_;
  Method method_;
  double threshold_, l1_fraction_;
  KernelBackend* backend_;
  bool regularize_on_mask_;
  std::vector<ValueId> params_;                 // distinct source parameters
  std::vector<const GateOp*> gates_;            // per param: its gate (logistic_sigmoid), else null
  std::vector<int> nodes_;                      // per param: the source node
  std::vector<int64_t> chunk_;                  // per param: elements per channel
  std::vector<std::vector<std::pair<int, int64_t>>> sources_;  // per group: (param index, channel)
};

}  // namespace mt::morph
