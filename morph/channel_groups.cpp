#include "morph/channel_groups.h"

#include "core/graph_queries.h"
#include "core/ops/conv2d.h"
#include "morph/channel_walk.h"
#include "morph/handlers/op_handler.h"

namespace mt::morph {

namespace {

std::vector<ChannelRef> ChannelGroup::*source_list(ChannelRole role) {
  switch (role) {
    case ChannelRole::filters: return &ChannelGroup::convs;
    case ChannelRole::batchnorm: return &ChannelGroup::batchnorms;
    case ChannelRole::gate: return &ChannelGroup::gates;
    case ChannelRole::compactor: return &ChannelGroup::compactors;
    case ChannelRole::none: break;
  }
  return nullptr;
}

std::string ref_name(const Graph& g, const ChannelRef& r) {
  return g.node(r.node).name + "[" + std::to_string(r.channel) + "]";
}

}  // namespace

const std::vector<ChannelRef>& ChannelGroup::sources(SourceKind kind) const {
  switch (kind) {
    case SourceKind::conv: return convs;
    case SourceKind::batchnorm: return batchnorms;
    case SourceKind::gate: return gates;
  }
  return convs;
}

bool is_depthwise_conv(const Graph& graph, const std::vector<Shape>& shapes, int node) {
  const Node& n = graph.node(node);
  if (n.op->kind() != OpKind::conv2d) return false;
  const int groups = dynamic_cast<const Conv2dOp&>(*n.op).desc().groups;
  const int64_t in = shapes[n.inputs[0]][1], out = shapes[n.outputs[0]][1];
  return groups > 1 && groups == in && out == in;
}

ChannelGroups::ChannelGroups(const Graph& graph, ValueId logits)
    : graph_(graph), logits_(logits), shapes_(infer_value_shapes(graph, 1)),
      value_groups_(graph.num_values()) {
  MT_CHECK(logits >= 0 && logits < graph.num_values() && graph.producer(logits) >= 0, ConfigError,
           "[channel_groups] the output boundary must be a value an op produces (the logits)");
  nodes_ = nodes_behind(graph, logits);
  ChannelWalk walk(graph, shapes_, logits);
  for (ValueId in : graph.inputs()) walk.seed_input(in);
  for (int n : nodes_) walk.visit(n);

  // Number the prunable components in the order their first atom appeared (graph order).
  UnionFind& uf = walk.uf();
  std::vector<int> id_of_root(uf.size(), kNone);
  int count = 0;
  for (int a = 0; a < uf.size(); ++a)
    if (uf.find(a) == a && !uf.pinned(a)) id_of_root[a] = count++;
  groups_.resize(count);
  auto group_of_atom = [&](int a) { return a < 0 ? kNone : id_of_root[uf.find(a)]; };
  for (int n : nodes_)
    for (ValueId v : graph.node(n).outputs)
      for (int a : walk.atoms(v)) value_groups_[v].push_back(group_of_atom(a));
  for (ValueId v : graph.inputs())
    for (int a : walk.atoms(v)) value_groups_[v].push_back(group_of_atom(a));

  // Sources, in node then channel order.
  for (int n : nodes_) {
    const Node& node = graph.node(n);
    std::vector<ChannelRef> ChannelGroup::*list = source_list(handler_for(graph, n).role(*this, n));
    if (!list) continue;
    const std::vector<int>& out = value_groups_[node.outputs[0]];
    for (size_t c = 0; c < out.size(); ++c)
      if (out[c] != kNone) (groups_[out[c]].*list).push_back({n, static_cast<int64_t>(c)});
  }
}

ValueId ChannelGroups::source_param(SourceKind kind, int node) const {
  const Node& n = graph_.node(node);
  if (kind != SourceKind::gate) return n.inputs.at(1);
  // The gate's logits: its one parameter input of shape [C].
  const int64_t c = shapes_[n.inputs[0]][1];
  for (ValueId v : n.inputs)
    if (graph_.value(v).kind == ValueKind::param && graph_.value(v).shape == Shape{c}) return v;
  MT_FAIL(ShapeError, "[channel_groups] gate '", n.name, "' has no [", c, "] logits parameter");
}

std::string ChannelGroups::group_name(int g) const {
  const ChannelGroup& grp = groups_.at(g);
  for (SourceKind k : {SourceKind::conv, SourceKind::batchnorm, SourceKind::gate})
    if (!grp.sources(k).empty()) return ref_name(graph_, grp.sources(k).front());
  return "group" + std::to_string(g);
}

std::string ChannelGroups::describe() const {
  std::string out;
  const char* labels[] = {"conv", "bn", "gate"};
  for (int g = 0; g < num_groups(); ++g) {
    out += "g" + std::to_string(g) + " " + group_name(g) + ":";
    for (SourceKind k : {SourceKind::conv, SourceKind::batchnorm, SourceKind::gate}) {
      const auto& refs = groups_[g].sources(k);
      if (refs.empty()) continue;
      out += std::string(" ") + labels[static_cast<int>(k)];
      for (const ChannelRef& r : refs) out += " " + ref_name(graph_, r);
      out += ";";
    }
    if (!groups_[g].compactors.empty()) {
      out += " compactor";
      for (const ChannelRef& r : groups_[g].compactors) out += " " + ref_name(graph_, r);
      out += ";";
    }
    out += "\n";
  }
  return out;
}

}  // namespace mt::morph
