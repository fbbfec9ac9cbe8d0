#include "morph/resrep_merge.h"

#include <cmath>
#include <map>

#include "core/graph_queries.h"
#include "core/ops/batchnorm2d.h"
#include "core/ops/conv2d.h"
#include "morph/channel_plan.h"
#include "morph/compactors.h"
#include "morph/host_view.h"
#include "morph/masked_constants.h"
#include "morph/reshape.h"

namespace mt::morph {

namespace {

// strip_compactors, also returning where each dense value went (-1 for compactor weights).
layers::Model strip(const layers::Model& dense, std::vector<ValueId>& map) {
  const Graph& g = dense.graph;
  std::vector<bool> compactor_weight(g.num_values(), false);
  for (const Node& n : g.nodes())
    if (n.op->kind() == OpKind::compactor) compactor_weight[n.inputs.at(1)] = true;
  layers::Model out;
  out.name = dense.name;
  map.assign(g.num_values(), -1);
  // Inputs, params and buffers first, in id order: feeds and state_dict keep their order.
  for (ValueId v = 0; v < g.num_values(); ++v) {
    const Value& val = g.value(v);
    if (val.kind == ValueKind::input) map[v] = out.graph.add_input(val.name, val.shape, val.dtype);
    if (val.kind == ValueKind::param && !compactor_weight[v])
      map[v] = out.graph.add_param(val.name, val.data.clone());
    if (val.kind == ValueKind::buffer) map[v] = out.graph.add_buffer(val.name, val.data.clone());
  }
  for (const Node& n : g.nodes()) {
    if (n.op->kind() == OpKind::compactor) {
      map[n.outputs[0]] = map[n.inputs[0]];
      continue;
    }
    std::vector<ValueId> inputs;
    for (ValueId v : n.inputs) inputs.push_back(map[v]);
    const std::vector<ValueId> outs = out.graph.add_node(n.name, n.op, inputs);
    for (size_t i = 0; i < outs.size(); ++i) map[n.outputs[i]] = outs[i];
  }
  for (ValueId v : g.outputs()) out.graph.mark_output(map[v]);
  auto remap = [&](ValueId v) { return v < 0 ? v : map[v]; };
  out.images = remap(dense.images), out.labels = remap(dense.labels);
  out.logits = remap(dense.logits), out.loss = remap(dense.loss);
  return out;
}

// Which dense channels of each (stripped) value the slim model keeps.
std::vector<bool> kept(const ChannelPlan& plan, ValueId v, size_t channels) {
  std::vector<bool> k(channels, false);
  for (const Slot& s : plan.slots[v]) k[static_cast<size_t>(s.index)] = true;
  return k;
}

struct Merger {
  const layers::Model& dense;
  const ChannelGroups& groups;
  const std::vector<bool>& masked;
  const std::vector<std::vector<double>>& constants;
  const std::vector<ValueId>& map;  // dense value -> stripped (= slim) value
  const ChannelPlan& plan;
  Graph& slim;
  std::vector<std::string>& inexact;
  std::vector<std::string>& identity_bns;

  const Graph& g() const { return dense.graph; }
  HostView dense_param(ValueId v) const { return HostView(g().value(v).data, g().value(v).name); }
  HostView slim_param(ValueId v) const {
    const std::string& name = g().value(v).name;
    return HostView(slim.value(slim.at(name)).data, name);
  }
  std::vector<bool> kept_of(ValueId dense_value) const {
    return kept(plan, map[dense_value], static_cast<size_t>(groups.shapes()[dense_value][1]));
  }
  const Slots& rows_of(ValueId dense_value) const { return plan.slots[map[dense_value]]; }

  std::vector<double> dropped_contribution(int node) const;
  void fold(const CompactorInfo& c, const std::vector<double>& delta) const;
  void write_conv(const Node& conv, const std::vector<std::vector<double>>& rows) const;
  void write_identity_bn(const Node& bn, const std::vector<double>& bias) const;
  void compensate(int node, const std::vector<double>& delta) const;
};

// What the input channels the slim model drops added to each output channel of `node` (a conv
// with groups 1 or a linear layer): constant x the sum of the channel's taps.
std::vector<double> Merger::dropped_contribution(int node) const {
  const Node& n = g().node(node);
  const HostView w = dense_param(n.inputs[1]);  // [O, I, kH, kW] or [O, I]
  const Shape& ws = g().value(n.inputs[1]).shape;
  const int64_t out = ws[0], in = ws[1], taps = ws.numel() / (out * in);
  const std::vector<bool> keep = kept_of(n.inputs[0]);
  const std::vector<double>& value = constants[n.inputs[0]];
  bool padded = false;
  if (n.op->kind() == OpKind::conv2d) {
    const Conv2dDesc& d = dynamic_cast<const Conv2dOp&>(*n.op).desc();
    padded = d.pad_h > 0 || d.pad_w > 0;
  }
  std::vector<double> delta(static_cast<size_t>(out), 0.0);
  for (int64_t j = 0; j < in; ++j) {
    const double k = value[static_cast<size_t>(j)];
    if (keep[static_cast<size_t>(j)] || k == 0) continue;
    const std::string what = "'" + n.name + "': removed input channel " + std::to_string(j);
    if (std::isnan(k)) {
      inexact.push_back(what + " is not constant");
      continue;
    }
    if (padded) inexact.push_back(what + " is a constant that the padding interrupts at the borders");
    for (int64_t o = 0; o < out; ++o) {
      double sum = 0;
      for (int64_t t = 0; t < taps; ++t) sum += w[(o * in + j) * taps + t];
      delta[static_cast<size_t>(o)] += k * sum;
    }
  }
  return delta;
}

// Conv, batch norm and compactor into the slim conv and an identity batch norm (see the header).
void Merger::fold(const CompactorInfo& c, const std::vector<double>& delta) const {
  const Node& conv = g().node(c.conv);
  const Shape& ws = g().value(conv.inputs[1]).shape;  // [O, I, kH, kW]
  const int64_t out = ws[0], row = ws.numel() / out;
  std::vector<double> s(out, 1.0), shift(out, 0.0);  // W' = s x W, b' = shift
  for (int64_t o = 0; o < out; ++o)
    shift[o] = (conv.inputs.size() > 2 ? dense_param(conv.inputs[2])[o] : 0.0) + delta[o];
  if (c.batchnorm >= 0) {
    const Node& bn = g().node(c.batchnorm);
    const double eps = dynamic_cast<const BatchNorm2dOp&>(*bn.op).desc().eps;
    const HostView gamma = dense_param(bn.inputs[1]), beta = dense_param(bn.inputs[2]),
                   mean = dense_param(bn.inputs[3]), var = dense_param(bn.inputs[4]);
    for (int64_t o = 0; o < out; ++o) {
      s[o] = gamma[o] / std::sqrt(var[o] + eps);
      shift[o] = beta[o] + s[o] * (shift[o] - mean[o]);
    }
  }
  // Kept rows of W'' = Q W' (a masked row is zero), each with its bias b'' = Q b' at the end.
  const HostView w = dense_param(conv.inputs[1]), q = dense_param(c.weight);
  std::vector<std::vector<double>> rows;
  for (const Slot& slot : rows_of(conv.outputs[0])) {
    const int64_t i = slot.index;
    std::vector<double> merged(static_cast<size_t>(row + 1), 0.0);
    const int gi = c.row_group[i];
    for (int64_t o = 0; o < out && (gi == ChannelGroups::kNone || !masked[gi]); ++o) {
      const double f = q[i * out + o] * s[o];
      if (f != 0)
        for (int64_t k = 0; k < row; ++k) merged[k] += f * w[o * row + k];
      merged[row] += q[i * out + o] * shift[o];
    }
    rows.push_back(std::move(merged));
  }
  write_conv(conv, rows);
  if (c.batchnorm >= 0) {
    std::vector<double> bias;
    for (const auto& r : rows) bias.push_back(r.back());
    write_identity_bn(g().node(c.batchnorm), bias);
    identity_bns.push_back(g().node(c.batchnorm).name);
  } else {
    MT_CHECK(conv.inputs.size() > 2, ShapeError, "[resrep] conv '", conv.name,
             "' has neither a batch norm nor a bias to carry the merged bias");
    const HostView b = slim_param(conv.inputs[2]);
    for (size_t r = 0; r < rows.size(); ++r) b.set(static_cast<int64_t>(r), rows[r].back());
  }
}

// The slim conv's weight: the kept input columns of each merged row; its own bias (if any) 0,
// as the batch norm carries the merged one.
void Merger::write_conv(const Node& conv, const std::vector<std::vector<double>>& rows) const {
  const Shape& ws = g().value(conv.inputs[1]).shape;
  const int64_t in = ws[1], taps = ws[2] * ws[3];
  const std::vector<bool> cols = kept_of(conv.inputs[0]);
  const HostView out = slim_param(conv.inputs[1]);
  int64_t at = 0;
  for (const auto& merged : rows)
    for (int64_t j = 0; j < in; ++j)
      if (cols[j])
        for (int64_t t = 0; t < taps; ++t) out.set(at++, merged[j * taps + t]);
  MT_CHECK(at == out.size(), ShapeError, "[resrep] conv '", conv.name, "': wrote ", at, " of ", out.size(),
           " slim weights");
  if (conv.inputs.size() > 2) {
    const HostView b = slim_param(conv.inputs[2]);
    for (int64_t r = 0; r < b.size(); ++r) b.set(r, 0.0);
  }
}

// BN(x) = (x - 0) / sqrt(1 + eps) x sqrt(1 + eps) + bias = x + bias.
void Merger::write_identity_bn(const Node& bn, const std::vector<double>& bias) const {
  const double eps = dynamic_cast<const BatchNorm2dOp&>(*bn.op).desc().eps;
  const HostView gamma = slim_param(bn.inputs[1]), beta = slim_param(bn.inputs[2]),
                 mean = slim_param(bn.inputs[3]), var = slim_param(bn.inputs[4]);
  for (size_t r = 0; r < bias.size(); ++r) {
    const auto i = static_cast<int64_t>(r);
    gamma.set(i, std::sqrt(1 + eps));
    beta.set(i, bias[r]);
    mean.set(i, 0.0);
    var.set(i, 1.0);
  }
}

// A consumer without a compactor: the removed channels' contribution goes into its bias, or
// into the running mean of the batch norm that alone reads it (BN(y + d) with mean - d).
void Merger::compensate(int node, const std::vector<double>& delta) const {
  bool any = false;
  for (double d : delta) any = any || d != 0;
  if (!any) return;
  const Node& n = g().node(node);
  const Slots& rows = rows_of(n.outputs[0]);
  if (n.inputs.size() > 2) {
    const HostView b = slim_param(n.inputs[2]);
    for (size_t r = 0; r < rows.size(); ++r)
      b.set(static_cast<int64_t>(r), b[static_cast<int64_t>(r)] + delta[rows[r].index]);
  } else if (const int bn = batchnorm_reading(g(), n.outputs[0]); bn >= 0) {
    const HostView mean = slim_param(required_input(g(), bn, InputRole::running_mean));
    for (size_t r = 0; r < rows.size(); ++r)
      mean.set(static_cast<int64_t>(r), mean[static_cast<int64_t>(r)] - delta[rows[r].index]);
  } else {
    inexact.push_back("'" + n.name + "': no bias or batch norm to take the removed channels' constant");
  }
}

}  // namespace

void rebase_identity_batchnorms(Graph& slim, const std::vector<std::string>& batchnorms) {
  for (const std::string& name : batchnorms) {
    const int node = slim.find_node(name);
    MT_CHECK(node >= 0 && slim.node(node).op->kind() == OpKind::batchnorm2d, ShapeError, "[resrep] '", name,
             "' is not a batch norm of the slim model");
    const Node& bn = slim.node(node);
    const double eps = dynamic_cast<const BatchNorm2dOp&>(*bn.op).desc().eps;
    auto view = [&](int i) { return HostView(slim.value(bn.inputs[i]).data, slim.value(bn.inputs[i]).name); };
    const HostView gamma = view(1), beta = view(2), mean = view(3), var = view(4);
    for (int64_t c = 0; c < gamma.size(); ++c) {
      gamma.set(c, std::sqrt(var[c] + eps));
      beta.set(c, beta[c] + mean[c]);
    }
  }
}

layers::Model strip_compactors(const layers::Model& model) {
  std::vector<ValueId> map;
  return strip(model, map);
}

MergeResult merge_compactors(const layers::Model& dense, const std::vector<bool>& masked) {
  const ChannelGroups groups(dense.graph, dense.logits);
  MT_CHECK(static_cast<int>(masked.size()) == groups.num_groups(), ShapeError, "[resrep] ", masked.size(),
           " mask bits for ", groups.num_groups(), " channel groups of model '", dense.name, "'");
  const std::vector<CompactorInfo> compactors = find_compactors(groups);
  const std::vector<bool> prunable = resrep_prunable(groups, compactors);
  std::vector<bool> alive(masked.size());
  for (size_t g = 0; g < masked.size(); ++g) {
    MT_CHECK(!masked[g] || prunable[g], ShapeError, "[resrep] group ", g, " (",
             groups.group_name(static_cast<int>(g)),
             ") is masked but not every conv in it has a compactor");
    alive[g] = !masked[g];
  }
  const std::vector<std::vector<double>> constants = masked_constants(groups, masked);

  std::vector<ValueId> map;
  const layers::Model stripped = strip(dense, map);
  const ChannelGroups stripped_groups(stripped.graph, stripped.logits);
  MT_CHECK(stripped_groups.num_groups() == groups.num_groups(), ShapeError, "[resrep] removing the compactors ",
           "changed the channel groups: ", groups.num_groups(), " -> ", stripped_groups.num_groups());
  Reshaped reshaped = reshape_model(stripped, selection_from_alive(alive));
  const ChannelPlan plan = plan_channels(stripped_groups, reshaped.selection);

  MergeResult result;
  result.selection = reshaped.selection;
  result.revived = reshaped.revived;
  Merger m{dense, groups, masked, constants, map, plan, reshaped.model.graph, result.inexact,
           result.identity_batchnorms};
  std::map<int, const CompactorInfo*> by_conv;
  for (const CompactorInfo& c : compactors) by_conv[c.conv] = &c;
  for (int node : groups.nodes()) {
    const Node& n = dense.graph.node(node);
    const OpKind kind = n.op->kind();
    const bool dense_conv = kind == OpKind::conv2d && dynamic_cast<const Conv2dOp&>(*n.op).desc().groups == 1;
    if (!dense_conv && kind != OpKind::linear) continue;
    const std::vector<double> delta = m.dropped_contribution(node);
    if (by_conv.count(node)) m.fold(*by_conv[node], delta);
    else m.compensate(node, delta);
  }
  result.model = std::move(reshaped.model);
  return result;
}

}  // namespace mt::morph
