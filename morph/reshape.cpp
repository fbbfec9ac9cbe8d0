#include "morph/reshape.h"

#include <cmath>
#include <cstring>

#include "core/ops/channel_pad.h"
#include "core/ops/conv2d.h"
#include "core/random.h"
#include "morph/channel_plan.h"

namespace mt::morph {

namespace {

// What a fresh parameter starts as (layers/builder.h's initialisations).
enum class Role : uint8_t { none, conv_weight, uniform, ones, zeros, gate_logits };

// How one parameter (or buffer) is rebuilt: the slots along its first two axes (null: that axis
// is unchanged) and how its fresh entries start.
struct ParamPlan {
  Role role = Role::none;
  const Slots* rows = nullptr;
  const Slots* cols = nullptr;
  double bound = 0;  // Role::uniform
  bool planned = false;
};

struct Rebuild {
  std::vector<OpPtr> ops;         // per dense node
  std::vector<ParamPlan> params;  // per dense value
};

bool is_activation(const Graph& g, ValueId v) {
  const ValueKind k = g.value(v).kind;
  return k == ValueKind::activation || k == ValueKind::input;
}

void plan_param(Rebuild& r, const Graph& g, ValueId v, ParamPlan p) {
  ParamPlan& slot = r.params[v];
  if (slot.planned) {
    // A parameter read by two ops must be sliced the same way by both.
    auto same = [](const Slots* a, const Slots* b) { return a == b || (a && b && *a == *b); };
    MT_CHECK(same(slot.rows, p.rows) && same(slot.cols, p.cols), ShapeError, "[reshape] '",
             g.value(v).name, "' is shared by ops that keep different channels");
    return;
  }
  p.planned = true;
  slot = p;
}

void require_unchanged(const ChannelPlan& plan, const ChannelGroups& groups, const Node& n) {
  std::vector<ValueId> values = n.outputs;
  for (ValueId v : n.inputs)
    if (is_activation(groups.graph(), v)) values.push_back(v);
  for (ValueId v : values) {
    const Shape& s = groups.shapes()[v];
    MT_CHECK(s.rank() < 2 || is_identity(plan.slots[v], s[1]), ShapeError, "[reshape] op '", n.name,
             "' (", n.op->kind(), ") cannot change its channels; its channel groups should be pinned");
  }
}

void plan_conv(Rebuild& r, const ChannelGroups& groups, const ChannelPlan& plan, int node) {
  const Graph& g = groups.graph();
  const Node& n = g.node(node);
  const auto& op = dynamic_cast<const Conv2dOp&>(*n.op);
  const Slots& in = plan.slots[n.inputs[0]];
  const Slots& out = plan.slots[n.outputs[0]];
  const Shape& w = g.value(n.inputs[1]).shape;  // [O, C / groups, kH, kW]
  const Slots* cols = &in;
  if (is_depthwise_conv(g, groups.shapes(), node)) {
    MT_CHECK(in == out, ShapeError, "[reshape] depthwise conv '", n.name, "' keeps other channels than its input");
    Conv2dDesc d = op.desc();
    d.groups = static_cast<int>(out.size());
    r.ops[node] = std::make_shared<Conv2dOp>(d, op.has_bias());
    cols = nullptr;
  } else if (op.desc().groups != 1) {
    require_unchanged(plan, groups, n);
    cols = nullptr;
  }
  const int64_t fan_in = (cols ? static_cast<int64_t>(in.size()) : w[1]) * w[2] * w[3];
  plan_param(r, g, n.inputs[1], {Role::conv_weight, &out, cols});
  if (op.has_bias())
    plan_param(r, g, n.inputs[2], {Role::uniform, &out, nullptr, 1.0 / std::sqrt(static_cast<double>(fan_in))});
}

void plan_linear(Rebuild& r, const ChannelGroups& groups, const ChannelPlan& plan, int node) {
  const Graph& g = groups.graph();
  const Node& n = g.node(node);
  const Slots& in = plan.slots[n.inputs[0]];
  const Slots& out = plan.slots[n.outputs[0]];
  const double bound = 1.0 / std::sqrt(static_cast<double>(in.size()));
  plan_param(r, g, n.inputs[1], {Role::uniform, &out, &in, bound});
  if (n.inputs.size() > 2) plan_param(r, g, n.inputs[2], {Role::uniform, &out, nullptr, bound});
}

void plan_node(Rebuild& r, const ChannelGroups& groups, const ChannelPlan& plan, int node) {
  const Graph& g = groups.graph();
  const Node& n = g.node(node);
  const std::string_view kind = n.op->kind();
  const Slots& x = plan.slots[n.inputs[0]];
  if (kind == "conv2d") return plan_conv(r, groups, plan, node);
  if (kind == "linear") return plan_linear(r, groups, plan, node);
  if (kind == "batchnorm2d") {
    const Role roles[] = {Role::ones, Role::zeros, Role::zeros, Role::ones};
    for (int i = 0; i < 4; ++i) plan_param(r, g, n.inputs[i + 1], {roles[i], &x});
    plan_param(r, g, n.inputs[5], {Role::zeros});  // num_batches_tracked: restarts when fresh
    return;
  }
  if (kind == "gate") return plan_param(r, g, groups.source_param(SourceKind::gate, node), {Role::gate_logits, &x});
  if (kind == "channel_pad") {
    const ChannelPadDesc& d = dynamic_cast<const ChannelPadOp&>(*n.op).desc();
    const int64_t after_start = d.pad_before + groups.shapes()[n.inputs[0]][1];
    ChannelPadDesc slim{0, 0, d.stride};
    for (const Slot& s : plan.slots[n.outputs[0]]) {
      slim.pad_before += s.index < d.pad_before;
      slim.pad_after += s.index >= after_start;
    }
    r.ops[node] = std::make_shared<ChannelPadOp>(slim);
    return;
  }
  if (kind == "mul" && !is_activation(g, n.inputs[1])) {
    if (g.value(n.inputs[1]).shape == Shape{static_cast<int64_t>(groups.shapes()[n.inputs[0]][1])})
      return plan_param(r, g, n.inputs[1], {Role::ones, &x});
    return require_unchanged(plan, groups, n);
  }
  bool has_state = false;
  for (ValueId v : n.inputs) has_state = has_state || !is_activation(g, v);
  if (has_state) require_unchanged(plan, groups, n);
}

void init_fresh(Tensor& t, const ParamPlan& p, const ReshapeOptions& o, Rng& rng) {
  if (t.dtype() != DType::f32 && t.dtype() != DType::f64) return;  // counters stay 0
  switch (p.role) {
    case Role::conv_weight: layers::init_kaiming_normal_fan_out(t, rng); break;
    case Role::uniform: layers::init_uniform(t, p.bound, rng); break;
    case Role::ones: t.fill(1); break;
    case Role::gate_logits: t.fill(o.gate_init_logit); break;
    case Role::zeros:
    case Role::none: break;
  }
}

// Copies every entry whose row and column slots are dense channels themselves.
void copy_kept(const Tensor& dense, const ParamPlan& p, Tensor& out) {
  const Tensor src = dense.layout() == Layout::nchw ? dense : dense.to(Layout::nchw);
  const Shape& s = src.shape();
  const int64_t d0 = s.rank() >= 1 ? s[0] : 1, d1 = s.rank() >= 2 ? s[1] : 1;
  const int64_t inner = d0 * d1 == 0 ? 0 : s.numel() / (d0 * d1);
  const int64_t rows = p.rows ? static_cast<int64_t>(p.rows->size()) : d0;
  const int64_t cols = p.cols ? static_cast<int64_t>(p.cols->size()) : d1;
  const size_t bytes = static_cast<size_t>(inner) * dtype_size(src.dtype());
  const auto* from = static_cast<const unsigned char*>(src.raw());
  auto* to = static_cast<unsigned char*>(out.raw());
  for (int64_t i = 0; i < rows; ++i) {
    const Slot ri = p.rows ? (*p.rows)[i] : Slot{i, 0};
    if (ri.copy != 0) continue;
    for (int64_t j = 0; j < cols; ++j) {
      const Slot cj = p.cols ? (*p.cols)[j] : Slot{j, 0};
      if (cj.copy != 0) continue;
      std::memcpy(to + static_cast<size_t>((i * cols + j) * inner) * dtype_size(src.dtype()),
                  from + static_cast<size_t>((ri.index * d1 + cj.index) * inner) * dtype_size(src.dtype()),
                  bytes);
    }
  }
}

Tensor build_param(const Value& dense, const ParamPlan& p, const ReshapeOptions& o, Rng& rng) {
  if (p.role == Role::none) return dense.data.clone();
  std::vector<int64_t> dims = dense.shape.dims();
  if (p.rows) dims.at(0) = static_cast<int64_t>(p.rows->size());
  if (p.cols) dims.at(1) = static_cast<int64_t>(p.cols->size());
  Tensor t = Tensor::zeros(Shape(dims), dense.dtype);
  init_fresh(t, p, o, rng);
  if (o.init == ReshapeInit::copy) copy_kept(dense.data, p, t);
  return t;
}

// The slim graph: the dense graph's values re-added in id order, so that every ValueId (and the
// state_dict order) stays the same.
Graph build_graph(const Graph& dense, const Rebuild& r, const ReshapeOptions& o) {
  Graph out;
  Rng rng(o.seed);
  std::vector<bool> added(dense.nodes().size(), false);
  for (ValueId v = 0; v < dense.num_values(); ++v) {
    const Value& val = dense.value(v);
    ValueId got = v;
    if (val.kind == ValueKind::input) {
      got = out.add_input(val.name, val.shape, val.dtype);
    } else if (val.kind == ValueKind::param) {
      got = out.add_param(val.name, build_param(val, r.params[v], o, rng));
    } else if (val.kind == ValueKind::buffer) {
      got = out.add_buffer(val.name, build_param(val, r.params[v], o, rng));
    } else if (!added[val.producer]) {
      const Node& n = dense.node(val.producer);
      got = out.add_node(n.name, r.ops[val.producer], n.inputs).front();
      added[val.producer] = true;
    }
    MT_CHECK(got == v, ShapeError, "[reshape] value '", val.name, "' changed its id");
  }
  for (ValueId v : dense.outputs()) out.mark_output(v);
  return out;
}

void check_widths(const Graph& slim, const ChannelPlan& plan) {
  const std::vector<Shape> shapes = infer_value_shapes(slim, 1);
  for (ValueId v = 0; v < slim.num_values(); ++v) {
    if (plan.slots[v].empty() || shapes[v].rank() < 2) continue;
    MT_CHECK(shapes[v][1] == static_cast<int64_t>(plan.slots[v].size()), ShapeError, "[reshape] '",
             slim.value(v).name, "' has ", shapes[v][1], " channels, the plan ", plan.slots[v].size());
  }
}

}  // namespace

Reshaped reshape_model(const layers::Model& dense, const ChannelSelection& keep,
                       const ReshapeOptions& options) {
  const ChannelGroups groups(dense.graph, dense.logits);
  Reshaped result;
  result.selection = keep;
  MT_CHECK(keep.num_groups() == groups.num_groups(), ShapeError, "[reshape] the selection has ",
           keep.num_groups(), " channel groups, model '", dense.name, "' ", groups.num_groups());
  for (int64_t c : keep.copies) MT_CHECK(c >= 0, ShapeError, "[reshape] negative channel count ", c);
  result.revived = revive_empty_values(groups, result.selection);
  const ChannelPlan plan = plan_channels(groups, result.selection);

  Rebuild r;
  for (const Node& n : dense.graph.nodes()) r.ops.push_back(n.op);
  r.params.resize(dense.graph.num_values());
  for (int node : groups.nodes()) plan_node(r, groups, plan, node);

  layers::Model& m = result.model;
  m.name = dense.name;
  m.graph = build_graph(dense.graph, r, options);
  m.images = dense.images;
  m.labels = dense.labels;
  m.logits = dense.logits;
  m.loss = dense.loss;
  check_widths(m.graph, plan);
  return result;
}

layers::Model reshape(const layers::Model& dense, const ChannelSelection& keep) {
  return std::move(reshape_model(dense, keep).model);
}

}  // namespace mt::morph
