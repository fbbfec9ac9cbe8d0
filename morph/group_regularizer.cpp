#include "morph/group_regularizer.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace mt::morph {

namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

Method parse_method(const std::string& name) {
  if (name == "gamma") return Method::gamma;
  if (name == "group_lasso") return Method::group_lasso;
  if (name == "logistic_sigmoid") return Method::logistic_sigmoid;
  MT_FAIL(ConfigError, "unknown structure-learning method '", name,
          "' (known: gamma, group_lasso, logistic_sigmoid)");
}

std::string method_name(Method m) {
  switch (m) {
    case Method::gamma: return "gamma";
    case Method::group_lasso: return "group_lasso";
    case Method::logistic_sigmoid: return "logistic_sigmoid";
  }
  return "?";
}

std::string method_prefix(Method m) {
  switch (m) {
    case Method::gamma: return "Gamma";
    case Method::group_lasso: return "GroupLasso";
    case Method::logistic_sigmoid: return "LogisticSigmoid";
  }
  return "?";
}

SourceKind source_kind(Method m) {
  switch (m) {
    case Method::gamma: return SourceKind::batchnorm;
    case Method::group_lasso: return SourceKind::conv;
    case Method::logistic_sigmoid: return SourceKind::gate;
  }
  return SourceKind::batchnorm;
}

double default_threshold(Method m) {
  switch (m) {
    case Method::gamma: return 1e-3;
    case Method::group_lasso: return 1e-2;
    case Method::logistic_sigmoid: return 0.5;
  }
  return 0;
}

GroupRegularizer::GroupRegularizer(const ChannelGroups& groups, Method method, double threshold,
                                   double l1_fraction, KernelBackend* backend, bool regularize_on_mask)
    : groups_(groups), method_(method), threshold_(threshold), l1_fraction_(l1_fraction), backend_(backend),
      regularize_on_mask_(regularize_on_mask), sources_(groups.num_groups()) {
  MT_CHECK(l1_fraction >= 0 && l1_fraction <= 1, ConfigError, "l1_fraction must be in [0, 1], got ",
           l1_fraction);
  const SourceKind kind = source_kind(method);
  std::map<ValueId, int> index;
  for (int g = 0; g < groups.num_groups(); ++g)
    for (const ChannelRef& r : groups.group(g).sources(kind)) {
      const ValueId p = groups.source_param(kind, r.node);
      auto [it, added] = index.emplace(p, static_cast<int>(params_.size()));
      if (added) {
        const Value& v = groups.graph().value(p);
        params_.push_back(p);
        nodes_.push_back(r.node);
        // A stand-in op of the tests may play a gate: it samples nothing and keeps nothing open.
        gates_.push_back(kind == SourceKind::gate ? dynamic_cast<const GateOp*>(groups.graph().node(r.node).op.get())
                                                  : nullptr);
        chunk_.push_back(v.shape.numel() / v.shape[0]);
        // The value of a BN scale or a gate logit reads the row sums of a one-element row.
        MT_CHECK(method == Method::group_lasso || chunk_.back() == 1, ShapeError, "[morph] '", v.name,
                 "' ", v.shape.str(), " has ", chunk_.back(), " elements per channel; a ",
                 method_name(method), " source has one");
      }
      sources_[g].push_back({it->second, r.channel});
    }
}

bool GroupRegularizer::has_sources() const { return !params_.empty(); }

std::vector<ValueId> GroupRegularizer::params() const { return params_; }

std::vector<std::vector<RowSums>> GroupRegularizer::param_sums() const {
  std::vector<Tensor> params;
  for (ValueId p : params_) params.push_back(groups_.graph().value(p).data);
  return row_sums(backend_, params);
}

double GroupRegularizer::value(int pi, int64_t c, const RowSums& s) const {
  if (method_ == Method::gamma) return s.abs;  // one element: |gamma|
  if (method_ == Method::logistic_sigmoid) return always_open(pi, c) ? 1.0 : sigmoid(s.sum);
  const double nn = static_cast<double>(chunk_[pi]);
  return (1 - l1_fraction_) * std::sqrt(s.sq / nn) + l1_fraction_ * s.abs / nn;
}

double GroupRegularizer::reg_value(const GroupState& state, int pi, int64_t c) const {
  if (!state.samples.empty() && !state.samples[pi].empty()) return state.samples[pi][c].g;
  return value(pi, c, state.sums[pi][c]);
}

// The gradient of each value in row_update's terms: gamma's sign(x) (the subgradient 0 at gamma = 0,
// as TF's abs), the sigmoid's s(1 - s) or the sample's dg, and the filter norm's
// x / (n rms) + sign(x) / n.
void GroupRegularizer::add_value_grad(const GroupState& state, int pi, int64_t c, double upstream,
                                      std::array<double, 4>& coef) const {
  const RowSums& s = state.sums[pi][c];
  if (method_ == Method::gamma) {
    coef[2] += upstream;
    return;
  }
  if (method_ == Method::logistic_sigmoid) {
    if (!state.samples.empty() && !state.samples[pi].empty()) {
      coef[3] += upstream * state.samples[pi][c].dg;
    } else if (!always_open(pi, c)) {
      const double p = sigmoid(s.sum);
      coef[3] += upstream * p * (1 - p);
    }
    return;
  }
  const double nn = static_cast<double>(chunk_[pi]);
  const double rms = std::sqrt(s.sq / nn);
  if (rms > 0) coef[1] += upstream * (1 - l1_fraction_) / (nn * rms);  // a zero filter has no direction
  coef[2] += upstream * l1_fraction_ / nn;
}

GroupState GroupRegularizer::evaluate(const GateSeeds* seeds) const {
  const int n = groups_.num_groups();
  GroupState s{std::vector<double>(n, 0.0), std::vector<bool>(n, true), std::vector<bool>(n, false), param_sums(), {}};
  const auto& sums = s.sums;
  if (method_ == Method::logistic_sigmoid && regularize_on_mask_ && seeds) {
    // The sample each gate's forward drew (gate_value is the kernels' own function); the logit is
    // the row sum of its one-element row.
    s.samples.resize(params_.size());
    for (size_t pi = 0; pi < params_.size(); ++pi) {
      if (!gates_[pi]) continue;
      const GateDesc d = gates_[pi]->desc(true, (*seeds)(nodes_[pi]));
      for (size_t c = 0; c < sums[pi].size(); ++c) s.samples[pi].push_back(gate_value(d, sums[pi][c].sum, c));
    }
  }
  for (int g = 0; g < n; ++g) {
    if (sources_[g].empty()) continue;
    s.regularized[g] = true;
    bool alive = false;
    double max = 0, none_open = 1;
    for (const auto& [pi, c] : sources_[g]) {
      alive = alive || value(pi, c, sums[pi][c]) > threshold_;
      const double v = reg_value(s, pi, c);
      max = std::max(max, v);
      none_open *= 1 - v;
    }
    s.reg[g] = method_ == Method::logistic_sigmoid ? 1 - none_open : max;
    s.alive[g] = alive;
  }
  return s;
}

void GroupRegularizer::backprop(const GroupState& state, const std::vector<double>& dterm_dreg, double scale,
                                const GradientSink& sink) const {
  MT_CHECK(static_cast<int>(dterm_dreg.size()) == groups_.num_groups(), ShapeError,
           "[morph] backprop over ", dterm_dreg.size(), " groups, expected ", groups_.num_groups());
  if (scale == 0 || params_.empty()) return;
  std::vector<Tensor*> grads;  // null where the sink declines
  std::vector<RowCoefs> coefs(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const Value& p = groups_.graph().value(params_[i]);
    Tensor* g = sink(params_[i]);
    if (g) MT_CHECK(g->shape() == p.shape, ShapeError, "[morph] gradient of '", p.name, "' is ",
                    g->shape().str(), ", the parameter ", p.shape.str());
    if (g) coefs[i] = identity_rows(p.shape[0]);
    grads.push_back(g);
  }
  MT_CHECK(state.sums.size() == params_.size(), ShapeError, "[morph] a state of ", state.sums.size(),
           " parameters for a regularizer of ", params_.size(), ": pass this regularizer's evaluate()");
  for (int g = 0; g < groups_.num_groups(); ++g) {
    const auto& src = sources_[g];
    if (src.empty() || dterm_dreg[g] == 0) continue;
    std::vector<double> v;
    for (const auto& [pi, c] : src) v.push_back(reg_value(state, pi, c));
    // The max passes its gradient to the first source that attains it.
    const size_t arg = static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());
    for (size_t s = 0; s < src.size(); ++s) {
      const auto [pi, c] = src[s];
      if (!grads[pi]) continue;
      double dr_dv = s == arg ? 1.0 : 0.0;
      if (method_ == Method::logistic_sigmoid) {
        dr_dv = 1;  // d(1 - prod(1 - p)) / dp_s = prod over the others of (1 - p)
        for (size_t o = 0; o < src.size(); ++o)
          if (o != s) dr_dv *= 1 - v[o];
      }
      if (dr_dv != 0) add_value_grad(state, pi, c, scale * dterm_dreg[g] * dr_dv, coefs[pi][c]);
    }
  }
  std::vector<RowUpdate> updates;
  for (size_t i = 0; i < params_.size(); ++i)
    if (grads[i]) updates.push_back({groups_.graph().value(params_[i]).data, std::move(coefs[i]), *grads[i]});
  update_rows(backend_, updates);
}

namespace {
// The level tau of the prox of lambda x max: sum_s n_s x max(v_s - tau, 0) = lambda, tau >= 0.
double clip_level(std::vector<std::pair<double, double>> v_n, double lambda) {
  std::sort(v_n.begin(), v_n.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  double weighted = 0, weight = 0;
  for (size_t k = 0; k < v_n.size(); ++k) {
    weighted += v_n[k].second * v_n[k].first;
    weight += v_n[k].second;
    const double tau = (weighted - lambda) / weight;  // the level if exactly the top k+1 are clipped
    const double next = k + 1 < v_n.size() ? v_n[k + 1].first : 0.0;
    if (tau >= next) return std::max(tau, 0.0);
  }
  return 0.0;
}
}  // namespace

void GroupRegularizer::proximal_step(const GroupState& state, const std::vector<double>& dterm_dreg,
                                     double step) const {
  MT_CHECK(static_cast<int>(dterm_dreg.size()) == groups_.num_groups(), ShapeError,
           "[morph] proximal step over ", dterm_dreg.size(), " groups, expected ", groups_.num_groups());
  MT_CHECK(method_ != Method::logistic_sigmoid, ConfigError,
           "[morph] logistic_sigmoid has no proximal step: regularize gates through the gradient");
  if (step == 0 || params_.empty()) return;
  MT_CHECK(state.sums.size() == params_.size(), ShapeError, "[morph] a state of ", state.sums.size(),
           " parameters for a regularizer of ", params_.size(), ": pass this regularizer's evaluate()");
  const auto& sums = state.sums;
  std::vector<RowCoefs> coefs;
  for (ValueId p : params_) coefs.push_back(identity_rows(groups_.graph().value(p).shape[0]));
  for (int g = 0; g < groups_.num_groups(); ++g) {
    const auto& src = sources_[g];
    const double lambda = step * dterm_dreg[g];
    if (src.empty() || lambda <= 0) continue;
    std::vector<std::pair<double, double>> v_n;
    for (const auto& [pi, c] : src)
      v_n.emplace_back(value(pi, c, sums[pi][c]), method_ == Method::gamma ? 1.0 : static_cast<double>(chunk_[pi]));
    const double tau = clip_level(v_n, lambda);
    for (size_t s = 0; s < src.size(); ++s) {
      const double v = v_n[s].first;
      if (v <= tau) continue;
      // Both value kinds are 1-homogeneous in the channel's elements: scaling them by tau / v
      // brings the value to exactly tau (0 kills the channel).
      const auto [pi, c] = src[s];
      // As y + (factor - 1) y rather than factor x y: the coefficient travels in the param's
      // dtype, and (factor - 1) rounded to f32 changes the result far less than factor rounded.
      coefs[pi][c][1] = tau / v - 1;
    }
  }
  std::vector<RowUpdate> updates;  // in place: x and y share the param's memory
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& param = groups_.graph().value(params_[i]).data;
    updates.push_back({param, std::move(coefs[i]), param});
  }
  update_rows(backend_, updates);
}

}  // namespace mt::morph
