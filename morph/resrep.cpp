#include "morph/resrep.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>


namespace mt::morph {

ResRepRanking parse_resrep_ranking(const std::string& name) {
  if (name == "norm") return ResRepRanking::norm;
  if (name == "norm_per_cost") return ResRepRanking::norm_per_cost;
  MT_FAIL(ConfigError, "unknown ResRep ranking '", name, "' (known: norm, norm_per_cost)");
}

std::string resrep_ranking_name(ResRepRanking r) {
  return r == ResRepRanking::norm ? "norm" : "norm_per_cost";
}

void validate(const ResRepOptions& o) {
  MT_CHECK(std::isfinite(o.lasso_strength) && o.lasso_strength >= 0, ConfigError,
           "resrep: lasso_strength must be >= 0, got ", o.lasso_strength);
  MT_CHECK(std::isfinite(o.masked_lasso_strength), ConfigError,
           "resrep: masked_lasso_strength must be finite (negative: lasso_strength), got ", o.masked_lasso_strength);
  MT_CHECK(o.warmup_steps >= 0, ConfigError, "resrep: warmup_steps must be >= 0, got ", o.warmup_steps);
  MT_CHECK(o.mask_interval >= 1, ConfigError, "resrep: mask_interval must be >= 1, got ", o.mask_interval);
  MT_CHECK(o.mask_step >= 1, ConfigError, "resrep: mask_step must be >= 1, got ", o.mask_step);
  MT_CHECK(o.target_fraction > 0 && o.target_fraction <= 1, ConfigError,
           "resrep: target_fraction must be in (0, 1], got ", o.target_fraction);
}

ResRep::ResRep(const Graph& graph, ValueId logits, ResRepOptions options)
    : graph_(graph), options_((validate(options), std::move(options))),
      groups_(std::make_unique<ChannelGroups>(graph, logits)), costs_(*groups_, options_.cost),
      compactors_(find_compactors(*groups_)) {
  MT_CHECK(!compactors_.empty(), ConfigError,
           "resrep: the model has no compactors; hint: build it with model.compactors: true");
  prunable_ = resrep_prunable(*groups_, compactors_);
  masked_.assign(groups_->num_groups(), false);
  MT_CHECK(num_prunable() > 0, ConfigError, "resrep: no channel group can be pruned (",
           groups_->num_groups(), " groups, ", compactors_.size(), " compactors)");
  index_groups();
}

void ResRep::index_groups() {
  const int ng = groups_->num_groups();
  group_ops_.assign(ng, {});
  const std::vector<CostOp>& ops = costs_.ops();
  for (int i = 0; i < static_cast<int>(ops.size()); ++i) {
    std::map<int, std::pair<double, double>> share;  // group -> (input, output) channels
    for (const OpChannels::Count& c : ops[i].in.groups) share[c.group].first += static_cast<double>(c.count);
    for (const OpChannels::Count& c : ops[i].out.groups) share[c.group].second += static_cast<double>(c.count);
    for (const auto& [g, io] : share) group_ops_[g].push_back({i, io.first, io.second});
  }
  group_values_.assign(ng, {});
  for (int node : groups_->nodes())
    for (ValueId v : graph_.node(node).outputs) {
      const std::vector<int>& chans = groups_->channel_groups(v);
      if (chans.empty()) continue;
      const int k = static_cast<int>(value_total_.size());
      value_total_.push_back(static_cast<int64_t>(chans.size()));
      std::map<int, int64_t> counts;
      for (int g : chans)
        if (g != ChannelGroups::kNone) ++counts[g];
      for (const auto& [g, n] : counts) group_values_[g].push_back({k, n});
    }
}

int ResRep::num_prunable() const {
  return static_cast<int>(std::count(prunable_.begin(), prunable_.end(), true));
}

int ResRep::num_masked() const { return static_cast<int>(std::count(masked_.begin(), masked_.end(), true)); }

void ResRep::set_masked(const std::vector<bool>& masked) {
  MT_CHECK(masked.size() == masked_.size(), ShapeError, "[resrep] ", masked.size(), " mask bits for ",
           masked_.size(), " channel groups");
  for (size_t g = 0; g < masked.size(); ++g)
    MT_CHECK(!masked[g] || prunable_[g], ShapeError, "[resrep] group ", g, " (",
             groups_->group_name(static_cast<int>(g)), ") cannot be masked");
  masked_ = masked;
}

std::vector<bool> ResRep::alive() const {
  std::vector<bool> a(masked_.size());
  for (size_t g = 0; g < a.size(); ++g) a[g] = !masked_[g];
  return a;
}

std::vector<std::vector<RowSums>> ResRep::compactor_sums() const {
  std::vector<Tensor> weights;
  for (const CompactorInfo& c : compactors_) weights.push_back(graph_.value(c.weight).data);
  std::vector<std::vector<RowSums>> sums = row_sums(options_.backend, weights);
  for (size_t k = 0; k < compactors_.size(); ++k)
    MT_CHECK(sums[k].size() == compactors_[k].row_group.size(), ShapeError, "[resrep] '",
             graph_.value(compactors_[k].weight).name, "' has ", sums[k].size(), " rows, expected ",
             compactors_[k].row_group.size());
  return sums;
}

std::vector<double> ResRep::group_norms() const {
  std::vector<double> sq(groups_->num_groups(), 0.0);
  const auto sums = compactor_sums();
  for (size_t k = 0; k < compactors_.size(); ++k) {
    const std::vector<int>& row_group = compactors_[k].row_group;
    for (size_t i = 0; i < row_group.size(); ++i)
      if (row_group[i] != ChannelGroups::kNone) sq[row_group[i]] += sums[k][i].sq;
  }
  for (double& s : sq) s = std::sqrt(s);
  return sq;
}

std::vector<double> ResRep::group_savings() const {
  const std::vector<bool> a = alive();
  const std::vector<CostOp>& ops = costs_.ops();
  std::vector<double> a_in(ops.size()), a_out(ops.size()), now(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    a_in[i] = ops[i].in.alive(a), a_out[i] = ops[i].out.alive(a);
    now[i] = costs_.op_cost(ops[i], a_in[i], a_out[i]).cost;
  }
  std::vector<double> saving(masked_.size(), 0.0);
  for (size_t g = 0; g < saving.size(); ++g) {
    if (masked_[g]) continue;
    for (const OpShare& s : group_ops_[g])
      saving[g] += now[s.op] - costs_.op_cost(ops[s.op], a_in[s.op] - s.in, a_out[s.op] - s.out).cost;
  }
  return saving;
}

// Row i's gradient becomes m_i x grad_i + (lambda_i / ||Q_i||) x Q_i: row_update with c0 = m_i,
// c1 = lambda_i / ||Q_i||; c0 = 0 overwrites a masked row whatever it held, as ResRep does.
double ResRep::add_penalty_gradient(const GradientSink& sink) const {
  const double kept_lambda = options_.lasso_strength;
  const double masked_lambda =
      options_.masked_lasso_strength >= 0 ? options_.masked_lasso_strength : options_.lasso_strength;
  const auto sums = compactor_sums();
  double term = 0;
  std::vector<RowUpdate> updates;
  for (size_t k = 0; k < compactors_.size(); ++k) {
    const CompactorInfo& c = compactors_[k];
    const Value& weight = graph_.value(c.weight);
    Tensor* grad = sink(c.weight);  // null: the term only
    MT_CHECK(!grad || grad->shape() == weight.shape, ShapeError, "[resrep] gradient of '", weight.name,
             "' is ", grad ? grad->shape().str() : "", ", the parameter ", weight.shape.str());
    RowCoefs coefs = identity_rows(static_cast<int64_t>(c.row_group.size()));
    for (size_t i = 0; i < c.row_group.size(); ++i) {
      const int g = c.row_group[i];
      if (g == ChannelGroups::kNone || !prunable_[g]) continue;
      const double norm = std::sqrt(sums[k][i].sq);
      const double lambda = masked_[g] ? masked_lambda : kept_lambda;
      term += lambda * norm;
      coefs[i] = {masked_[g] ? 0.0 : 1.0, norm > 0 ? lambda / norm : 0.0, 0.0, 0.0};
    }
    if (grad) updates.push_back({weight.data, std::move(coefs), *grad});
  }
  update_rows(options_.backend, updates);
  return term;
}

bool ResRep::mask_due(int64_t completed_steps) const {
  const int64_t since = completed_steps - options_.warmup_steps;
  return since > 0 && since % options_.mask_interval == 0;
}

std::vector<int64_t> ResRep::value_alive() const {
  std::vector<int64_t> alive = value_total_;
  for (size_t g = 0; g < masked_.size(); ++g)
    if (masked_[g])
      for (const ValueShare& s : group_values_[g]) alive[s.value] -= s.count;
  return alive;
}

bool ResRep::would_empty(int g, const std::vector<int64_t>& value_alive) const {
  for (const ValueShare& s : group_values_[g])
    if (value_alive[s.value] - s.count < 1) return true;
  return false;
}

std::vector<double> ResRep::rank_scores() const {
  std::vector<double> score = group_norms();
  if (options_.ranking == ResRepRanking::norm) return score;
  const std::vector<double> saving = group_savings();
  for (size_t g = 0; g < score.size(); ++g)
    score[g] = saving[g] > 0 ? score[g] / saving[g] : std::numeric_limits<double>::infinity();
  return score;
}

std::vector<int> ResRep::mask_more() {
  std::vector<int> chosen;
  const double target = options_.target_fraction * full_cost();
  if (cost() <= target) return chosen;
  const std::vector<double> score = rank_scores();
  std::vector<int> order;
  for (int g = 0; g < static_cast<int>(masked_.size()); ++g)
    if (prunable_[g] && !masked_[g]) order.push_back(g);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return score[a] < score[b]; });

  // The current counts, updated as groups are masked, so that the cost check sees each choice.
  const std::vector<CostOp>& ops = costs_.ops();
  const std::vector<bool> a = alive();
  std::vector<double> a_in(ops.size()), a_out(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) a_in[i] = ops[i].in.alive(a), a_out[i] = ops[i].out.alive(a);
  std::vector<int64_t> values = value_alive();
  double now = cost();
  for (int g : order) {
    if (now <= target || static_cast<int64_t>(chosen.size()) >= options_.mask_step) break;
    if (!std::isfinite(score[g]) || would_empty(g, values)) continue;  // saves nothing, or empties a value
    for (const OpShare& s : group_ops_[g]) {
      now -= costs_.op_cost(ops[s.op], a_in[s.op], a_out[s.op]).cost;
      a_in[s.op] -= s.in, a_out[s.op] -= s.out;
      now += costs_.op_cost(ops[s.op], a_in[s.op], a_out[s.op]).cost;
    }
    for (const ValueShare& s : group_values_[g]) values[s.value] -= s.count;
    masked_[g] = true;
    chosen.push_back(g);
  }
  return chosen;
}

ChannelSelection ResRep::selection() const { return selection_from_alive(alive(), group_norms()); }

nlohmann::json ResRep::learned_structure() const {
  nlohmann::json out = nlohmann::json::object();
  for (int node : groups_->nodes()) {
    const Node& n = graph_.node(node);
    if (n.op->kind() != OpKind::conv2d || is_depthwise_conv(graph_, groups_->shapes(), node)) continue;
    int64_t alive = 0;
    for (int g : groups_->channel_groups(n.outputs[0])) alive += g == ChannelGroups::kNone || !masked_[g];
    out[n.name] = alive;
  }
  return out;
}

void ResRep::zero_masked_rows(Graph& graph) const {
  MT_CHECK(&graph == &graph_, ShapeError, "[resrep] zero_masked_rows: not the graph ResRep analysed");
  std::vector<RowUpdate> updates;  // in place: x and y share the weight's memory
  for (const CompactorInfo& c : compactors_) {
    RowCoefs coefs = identity_rows(static_cast<int64_t>(c.row_group.size()));
    for (size_t i = 0; i < c.row_group.size(); ++i)
      if (c.row_group[i] != ChannelGroups::kNone && masked_[c.row_group[i]]) coefs[i][0] = 0;
    const Tensor& q = graph.value(c.weight).data;
    updates.push_back({q, std::move(coefs), q});
  }
  update_rows(options_.backend, updates);
}

}  // namespace mt::morph
