#include "morph/network_regularizer.h"

#include "morph/handlers/op_handler.h"

namespace mt::morph {

namespace {

CostOptions cost_options(const RegularizerOptions& o) {
  CostOptions c;
  c.target = o.target;
  c.hardware = o.hardware;
  c.batch_size = o.batch_size;
  c.count_bias = o.count_bias;
  return c;
}

double threshold_of(const RegularizerOptions& o) {
  return o.threshold < 0 ? default_threshold(o.method) : o.threshold;
}

std::string target_suffix(CostTarget t) {
  switch (t) {
    case CostTarget::flops: return "Flops";
    case CostTarget::model_size: return "ModelSize";
    case CostTarget::latency: return "Latency";
  }
  return "?";
}

}  // namespace

NetworkRegularizer::NetworkRegularizer(const Graph& graph, ValueId logits,
                                       const RegularizerOptions& options)
    : options_(options),
      groups_(std::make_unique<ChannelGroups>(graph, logits)),
      costs_(*groups_, cost_options(options)),
      regularizer_(*groups_, options.method, threshold_of(options), options.l1_fraction, options.backend,
                   options.regularize_on_mask) {}

std::string NetworkRegularizer::name() const {
  return method_prefix(options_.method) + target_suffix(options_.target);
}

Evaluation NetworkRegularizer::evaluate(const GateSeeds* seeds) const {
  Evaluation e;
  e.groups = regularizer_.evaluate(seeds);
  e.op_costs = costs_.op_costs(e.groups.alive);
  for (size_t i = 0; i < costs_.ops().size(); ++i) {
    const CostOp& op = costs_.ops()[i];
    const OpCost& c = e.op_costs[i];
    const double term = c.k_in * op.in.sum(e.groups.reg) + c.k_out * op.out.sum(e.groups.reg);
    e.op_terms.push_back(term);
    e.term += term;
    e.cost += c.cost;
  }
  return e;
}

std::vector<double> NetworkRegularizer::term_by_group(const Evaluation& e) const {
  std::vector<double> dreg(groups_->num_groups(), 0.0);
  for (size_t i = 0; i < costs_.ops().size(); ++i) {
    const CostOp& op = costs_.ops()[i];
    for (const auto& c : op.in.groups) dreg[c.group] += e.op_costs[i].k_in * static_cast<double>(c.count);
    for (const auto& c : op.out.groups) dreg[c.group] += e.op_costs[i].k_out * static_cast<double>(c.count);
  }
  return dreg;
}

double NetworkRegularizer::add_term_gradient(const Evaluation& e, double scale, const GradientSink& sink) const {
  if (scale == 0) return e.term;
  regularizer_.backprop(e.groups, term_by_group(e), scale, sink);
  return e.term;
}

void NetworkRegularizer::proximal_step(double step) const {
  if (step == 0) return;
  const Evaluation e = evaluate();
  regularizer_.proximal_step(e.groups, term_by_group(e), step);
}

std::map<std::string, std::vector<bool>> NetworkRegularizer::alive_vectors() const {
  const std::vector<bool> alive = group_alive();
  const Graph& g = groups_->graph();
  std::map<std::string, std::vector<bool>> out;
  for (int n : groups_->nodes()) {
    const Node& node = g.node(n);
    if (!handler_for(g, n).reports_alive() || node.outputs[0] == groups_->logits()) continue;
    std::vector<bool>& bits = out[node.name];
    for (int grp : groups_->channel_groups(node.outputs[0]))
      bits.push_back(grp == ChannelGroups::kNone || alive[grp]);
  }
  return out;
}

std::vector<OpReport> NetworkRegularizer::op_reports() const {
  const Evaluation e = evaluate();
  std::vector<OpReport> out;
  for (size_t i = 0; i < costs_.ops().size(); ++i) {
    const CostOp& op = costs_.ops()[i];
    out.push_back({op.name, op.kind, op.in.alive(e.groups.alive), op.out.alive(e.groups.alive),
                   op.in.total, op.out.total, e.op_costs[i].cost, e.op_terms[i]});
  }
  return out;
}

std::unique_ptr<NetworkRegularizer> make_regularizer(const Graph& graph, ValueId logits,
                                                     const RegularizerOptions& options) {
  auto reg = std::make_unique<NetworkRegularizer>(graph, logits, options);
  static const char* hints[] = {
      "conv2d (or hidden linear) ops with prunable outputs",  // conv
      "batchnorm2d ops after prunable convs",                 // batchnorm
      "gate ops after prunable layers (build the model with gates)"};
  MT_CHECK(reg->group_regularizer().has_sources(), ConfigError, "structure learning with method '",
           method_name(options.method), "' found no sources in the model; hint: it needs ",
           hints[static_cast<int>(source_kind(options.method))]);
  return reg;
}

}  // namespace mt::morph
