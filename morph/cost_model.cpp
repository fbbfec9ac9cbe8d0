#include "morph/cost_model.h"

#include <algorithm>
#include <map>

#include "core/graph_queries.h"
#include "morph/handlers/op_handler.h"
#include "morph/latency_table.h"

namespace mt::morph {

namespace {

OpChannels channels_of(const std::vector<int>& groups) {
  OpChannels c;
  std::map<int, int64_t> counts;
  for (int g : groups) {
    if (g == ChannelGroups::kNone) ++c.fixed;
    else ++counts[g];
  }
  for (const auto& [g, n] : counts) c.groups.push_back({g, n});
  c.total = static_cast<int64_t>(groups.size());
  return c;
}

// Bytes of one channel of one sample of an activation.
double channel_bytes(const Graph& g, const std::vector<Shape>& shapes, ValueId v) {
  const Shape& s = shapes[v];
  return static_cast<double>(s.numel() / std::max<int64_t>(s[1], 1)) *
         static_cast<double>(dtype_size(g.value(v).dtype));
}

CostOp make_cost_op(const ChannelGroups& groups, int node) {
  const Graph& g = groups.graph();
  const Node& n = g.node(node);
  CostOp op;
  op.node = node;
  op.name = n.name;
  op.kind = n.op->kind_name();
  const OpHandler& h = handler_for(g, node);
  const ValueId y = n.outputs[0];
  const ValueId x = h.cost_reads_output() ? y : n.inputs[0];
  op.in = channels_of(groups.channel_groups(x));
  op.out = channels_of(groups.channel_groups(y));
  op.out_bytes = channel_bytes(g, groups.shapes(), y);
  if (h.cost_reads_output()) {
    op.in_bytes = op.out_bytes;
  } else {
    for (ValueId v : n.inputs)
      if (is_activation_value(g, v)) op.in_bytes += channel_bytes(g, groups.shapes(), v);
  }
  if (h.counts_compute()) h.weight_coeffs(groups, op);
  op.shape_key = layer_key(g, groups.shapes(), n);
  return op;
}

// cost = c x A_in x A_out (or c x A_out when depthwise), with its term coefficients.
OpCost bilinear(double c, bool depthwise, double a_in, double a_out) {
  if (depthwise) return {c * a_out, c, c};
  return {c * a_in * a_out, c * a_out, c * a_in};
}

}  // namespace

CostTarget parse_cost_target(const std::string& name) {
  if (name == "flops") return CostTarget::flops;
  if (name == "model_size") return CostTarget::model_size;
  if (name == "latency") return CostTarget::latency;
  MT_FAIL(ConfigError, "unknown cost target '", name, "' (known: flops, model_size, latency)");
}

std::string cost_target_name(CostTarget t) {
  switch (t) {
    case CostTarget::flops: return "flops";
    case CostTarget::model_size: return "model_size";
    case CostTarget::latency: return "latency";
  }
  return "?";
}

double OpChannels::alive(const std::vector<bool>& group_alive) const {
  double n = static_cast<double>(fixed);
  for (const Count& c : groups)
    if (group_alive[c.group]) n += static_cast<double>(c.count);
  return n;
}

double OpChannels::sum(const std::vector<double>& group_values) const {
  double s = 0;
  for (const Count& c : groups) s += static_cast<double>(c.count) * group_values[c.group];
  return s;
}

CostModel::CostModel(const ChannelGroups& groups, CostOptions options)
    : options_(std::move(options)), num_groups_(groups.num_groups()) {
  MT_CHECK(options_.batch_size >= 1, ConfigError, "cost model: batch_size must be >= 1, got ",
           options_.batch_size);
  const bool latency = options_.target == CostTarget::latency;
  for (int n : groups.nodes()) {
    const OpHandler& h = handler_for(groups.graph(), n);
    if (latency ? h.counts_memory() : h.counts_compute()) ops_.push_back(make_cost_op(groups, n));
  }
}

std::string CostModel::cost_name() const {
  switch (options_.target) {
    case CostTarget::flops: return "FLOPs";
    case CostTarget::model_size: return "ModelSize";
    case CostTarget::latency: return options_.hardware.name + " Latency";
  }
  return "?";
}

OpCost CostModel::op_cost(const CostOp& op, double a_in, double a_out) const {
  if (options_.target == CostTarget::flops) return bilinear(op.flop_coeff, op.depthwise, a_in, a_out);
  if (options_.target == CostTarget::model_size) {
    OpCost c = bilinear(op.weight_coeff, op.depthwise, a_in, a_out);
    if (options_.count_bias && op.has_bias) {
      c.cost += a_out;
      c.k_out += 1;
    }
    return c;
  }
  // Latency: a measured table where it has the layer, with the measured slopes as coefficients.
  if (options_.hardware.measured && !op.shape_key.empty())
    if (const LatencyEntry* e = options_.hardware.measured->find(op.shape_key)) {
      // A negative slope (a width the kernels run faster than a narrower one) counts as zero:
      // the regularizer never pays a channel for existing; rounding to fast widths is the
      // reshape's job.
      const Interpolated t = interpolate(*e, op.depthwise ? 1.0 : a_in, a_out);
      const double k_in = std::max(0.0, t.d_in), k_out = std::max(0.0, t.d_out);
      if (op.depthwise) return {t.ns, k_out, k_out};  // in and out are one set of channels
      return {t.ns, k_in, k_out};
    }
  // Else MorphNet's roofline; the term follows whichever bound is larger now.
  const double batch = static_cast<double>(options_.batch_size);
  const double peak = options_.hardware.peak_gflops, bw = options_.hardware.memory_gbps;
  const OpCost flops = bilinear(op.flop_coeff * batch, op.depthwise, a_in, a_out);
  const OpCost weights = bilinear(op.weight_bytes, op.depthwise, a_in, a_out);
  const double compute = flops.cost / peak;
  const double memory = (batch * (op.in_bytes * a_in + op.out_bytes * a_out) + weights.cost) / bw;
  if (memory > compute)
    return {memory, (batch * op.in_bytes + weights.k_in) / bw, (batch * op.out_bytes + weights.k_out) / bw};
  return {compute, flops.k_in / peak, flops.k_out / peak};
}

std::vector<OpCost> CostModel::op_costs(const std::vector<bool>& group_alive) const {
  MT_CHECK(static_cast<int>(group_alive.size()) == num_groups_, ShapeError, "cost model: ",
           group_alive.size(), " alive bits for ", num_groups_, " channel groups");
  std::vector<OpCost> out;
  out.reserve(ops_.size());
  for (const CostOp& op : ops_)
    out.push_back(op_cost(op, op.in.alive(group_alive), op.out.alive(group_alive)));
  return out;
}

double CostModel::cost(const std::vector<bool>& group_alive) const {
  double total = 0;
  for (const OpCost& c : op_costs(group_alive)) total += c.cost;
  return total;
}

double CostModel::full_cost() const { return cost(std::vector<bool>(num_groups_, true)); }

}  // namespace mt::morph
