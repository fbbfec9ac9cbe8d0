#include "morph/reshape.h"

#include <cmath>
#include <cstring>

#include "core/graph_queries.h"
#include "core/random.h"
#include "morph/channel_plan.h"
#include "morph/handlers/op_handler.h"
#include "morph/reshape_planner.h"

namespace mt::morph {

ReshapePlanner::ReshapePlanner(const ChannelGroups& groups, const ChannelPlan& plan)
    : groups_(groups), plan_(plan), params_(groups.graph().num_values()) {
  for (const Node& n : groups.graph().nodes()) ops_.push_back(n.op);
}

void ReshapePlanner::plan_param(ValueId v, ParamPlan p) {
  ParamPlan& slot = params_[v];
  if (slot.planned) {
    auto same = [](const Slots* a, const Slots* b) { return a == b || (a && b && *a == *b); };
    MT_CHECK(same(slot.rows, p.rows) && same(slot.cols, p.cols), ShapeError, "[reshape] '",
             graph().value(v).name, "' is shared by ops that keep different channels");
    return;
  }
  p.planned = true;
  slot = p;
}

void ReshapePlanner::require_unchanged(int node) const {
  const Node& n = graph().node(node);
  std::vector<ValueId> values = n.outputs;
  for (ValueId v : n.inputs)
    if (is_activation_value(graph(), v)) values.push_back(v);
  for (ValueId v : values) {
    const Shape& s = groups_.shapes()[v];
    MT_CHECK(s.rank() < 2 || is_identity(plan_.slots[v], s[1]), ShapeError, "[reshape] op '", n.name, "' (",
             n.op->kind_name(), ") cannot change its channels; its channel groups should be pinned");
  }
}

namespace {

void init_fresh(Tensor& t, const ParamPlan& p, const ReshapeOptions& o, Rng& rng) {
  if (t.dtype() != DType::f32 && t.dtype() != DType::f64) return;  // counters stay 0
  switch (p.init) {
    case ParamInit::conv_weight: layers::init_kaiming_normal_fan_out(t, rng); break;
    case ParamInit::uniform: layers::init_uniform(t, p.bound, rng); break;
    case ParamInit::ones: t.fill(1); break;
    case ParamInit::gate_logits: t.fill(o.gate_init_logit); break;
    case ParamInit::zeros:
    case ParamInit::none: break;
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
  if (p.init == ParamInit::none) return dense.data.clone();
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
Graph build_graph(const Graph& dense, const ReshapePlanner& r, const ReshapeOptions& o) {
  Graph out;
  Rng rng(o.seed);
  std::vector<bool> added(dense.nodes().size(), false);
  for (ValueId v = 0; v < dense.num_values(); ++v) {
    const Value& val = dense.value(v);
    ValueId got = v;
    if (val.kind == ValueKind::input) {
      got = out.add_input(val.name, val.shape, val.dtype);
    } else if (val.kind == ValueKind::param) {
      got = out.add_param(val.name, build_param(val, r.params()[v], o, rng));
    } else if (val.kind == ValueKind::buffer) {
      got = out.add_buffer(val.name, build_param(val, r.params()[v], o, rng));
    } else if (!added[val.producer]) {
      const Node& n = dense.node(val.producer);
      got = out.add_node(n.name, r.ops()[val.producer], n.inputs).front();
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

  ReshapePlanner r(groups, plan);
  for (int node : groups.nodes()) handler_for(dense.graph, node).plan_reshape(r, node);

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
