#include "morph/channel_groups.h"

#include <algorithm>
#include <set>

#include "core/ops/channel_pad.h"
#include "core/ops/conv2d.h"

namespace mt::morph {

namespace {

// Union-find over atoms (one per produced channel); a pinned atom makes its component
// unprunable.
class UnionFind {
 public:
  int make(bool pinned) {
    parent_.push_back(static_cast<int>(parent_.size()));
    pinned_.push_back(pinned);
    return parent_.back();
  }
  int find(int a) {
    while (parent_[a] != a) a = parent_[a] = parent_[parent_[a]];
    return a;
  }
  void unite(int a, int b) {
    a = find(a), b = find(b);
    if (a == b) return;
    if (b < a) std::swap(a, b);  // the older atom stays the root: ids follow graph order
    parent_[b] = a;
    pinned_[a] = pinned_[a] || pinned_[b];
  }
  void pin(int a) { pinned_[find(a)] = true; }
  bool pinned(int a) { return pinned_[find(a)]; }
  int size() const { return static_cast<int>(parent_.size()); }

 private:
  std::vector<int> parent_;
  std::vector<bool> pinned_;
};

using Atoms = std::vector<int>;  // per channel: an atom, or -1 for a constant zero channel

const std::set<std::string_view> kPassThrough = {"batchnorm2d", "relu",      "sigmoid",
                                                 "dropout",     "maxpool2d", "avgpool2d",
                                                 "global_avgpool2d", "gate", "compactor"};

bool is_activation(const Graph& g, ValueId v) {
  const ValueKind k = g.value(v).kind;
  return k == ValueKind::activation || k == ValueKind::input;
}

int64_t channels_of(const Shape& s) { return s.rank() >= 2 ? s[1] : 0; }

// The nodes the logits depend on, in graph order.
std::vector<int> nodes_behind(const Graph& g, ValueId logits) {
  std::vector<bool> seen(g.nodes().size(), false);
  std::vector<ValueId> stack{logits};
  while (!stack.empty()) {
    const int p = g.producer(stack.back());
    stack.pop_back();
    if (p < 0 || seen[p]) continue;
    seen[p] = true;
    for (ValueId in : g.node(p).inputs) stack.push_back(in);
  }
  std::vector<int> nodes;
  for (size_t i = 0; i < seen.size(); ++i)
    if (seen[i]) nodes.push_back(static_cast<int>(i));
  return nodes;
}

// Propagates atoms through the analysed nodes, one rule per op kind.
class Walker {
 public:
  Walker(const Graph& g, const std::vector<Shape>& shapes, ValueId logits)
      : g_(g), shapes_(shapes), logits_(logits), atoms_(g.num_values()) {}

  void seed_input(ValueId v) { atoms_[v] = fresh(channels_of(shapes_[v]), true); }
  void visit(int node);
  UnionFind& uf() { return uf_; }
  const Atoms& atoms(ValueId v) const { return atoms_[v]; }

 private:
  Atoms fresh(int64_t n, bool pinned) {
    Atoms a(n);
    for (auto& x : a) x = uf_.make(pinned);
    return a;
  }
  void pin(const Atoms& a) {
    for (int x : a)
      if (x >= 0) uf_.pin(x);
  }
  // Elementwise tie of two equally long channel lists (add, mul): a constant zero channel takes
  // the other side's atom.
  Atoms tie(const Atoms& a, const Atoms& b) {
    MT_CHECK(a.size() == b.size(), ShapeError, "[channel_groups] elementwise op over ", a.size(),
             " and ", b.size(), " channels");
    Atoms out(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i] >= 0 && b[i] >= 0) uf_.unite(a[i], b[i]);
      out[i] = a[i] >= 0 ? a[i] : b[i];
    }
    return out;
  }
  Atoms conv(const Node& n);
  Atoms flatten(const Node& n);
  Atoms mul(const Node& n);
  Atoms unknown(const Node& n);

  const Graph& g_;
  const std::vector<Shape>& shapes_;
  ValueId logits_;
  UnionFind uf_;
  std::vector<Atoms> atoms_;
};

Atoms Walker::conv(const Node& n) {
  const Atoms& in = atoms_[n.inputs[0]];
  const auto& op = dynamic_cast<const Conv2dOp&>(*n.op);
  const int64_t out = channels_of(shapes_[n.outputs[0]]);
  if (op.desc().groups == 1) return fresh(out, false);
  if (op.desc().groups == static_cast<int>(in.size()) && out == static_cast<int64_t>(in.size()))
    return in;  // depthwise: output channel c reads input channel c only
  // Any other grouping would need whole groups removed at once: keep these channels.
  pin(in);
  return fresh(out, true);
}

Atoms Walker::flatten(const Node& n) {
  const Atoms& in = atoms_[n.inputs[0]];
  const Shape& s = shapes_[n.inputs[0]];
  if (s.rank() <= 2) return in;
  const int64_t per_channel = s.numel() / (s[0] * s[1]);  // H x W, in PyTorch's (C, H, W) order
  Atoms out;
  out.reserve(in.size() * per_channel);
  for (int a : in) out.insert(out.end(), per_channel, a);
  return out;
}

Atoms Walker::mul(const Node& n) {
  const ValueId a = n.inputs[0], b = n.inputs[1];
  // A parameter scale (a fixed gate, a learned per-channel weight) keeps a's channels; an
  // activation (channel attention) is tied to them.
  if (!is_activation(g_, b)) return atoms_[a];
  return tie(atoms_[a], atoms_[b]);
}

Atoms Walker::unknown(const Node& n) {
  for (ValueId v : n.inputs)
    if (is_activation(g_, v)) pin(atoms_[v]);
  return fresh(channels_of(shapes_[n.outputs[0]]), true);
}

void Walker::visit(int index) {
  const Node& n = g_.node(index);
  const std::string_view kind = n.op->kind();
  Atoms out;
  if (kPassThrough.count(kind)) {
    out = atoms_[n.inputs[0]];
  } else if (kind == "conv2d") {
    out = conv(n);
  } else if (kind == "linear") {
    out = fresh(channels_of(shapes_[n.outputs[0]]), n.outputs[0] == logits_);
  } else if (kind == "flatten") {
    out = flatten(n);
  } else if (kind == "add") {
    out = tie(atoms_[n.inputs[0]], atoms_[n.inputs[1]]);
  } else if (kind == "mul") {
    out = mul(n);
  } else if (kind == "concat") {
    for (ValueId v : n.inputs) out.insert(out.end(), atoms_[v].begin(), atoms_[v].end());
  } else if (kind == "channel_pad") {
    const auto& d = dynamic_cast<const ChannelPadOp&>(*n.op).desc();
    out.assign(d.pad_before, -1);
    out.insert(out.end(), atoms_[n.inputs[0]].begin(), atoms_[n.inputs[0]].end());
    out.insert(out.end(), d.pad_after, -1);
  } else {
    out = unknown(n);
  }
  atoms_[n.outputs[0]] = std::move(out);
  // Extra outputs (none of the analysed kinds has any) are treated as unprunable.
  for (size_t o = 1; o < n.outputs.size(); ++o)
    atoms_[n.outputs[o]] = fresh(channels_of(shapes_[n.outputs[o]]), true);
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
  if (n.op->kind() != "conv2d") return false;
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
  Walker walk(graph, shapes_, logits);
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
    const std::string_view kind = node.op->kind();
    std::vector<ChannelRef> ChannelGroup::*list = nullptr;
    if (kind == "batchnorm2d") list = &ChannelGroup::batchnorms;
    if (kind == "gate") list = &ChannelGroup::gates;
    if (kind == "compactor") list = &ChannelGroup::compactors;
    if ((kind == "conv2d" && !is_depthwise_conv(graph, shapes_, n)) || kind == "linear")
      list = &ChannelGroup::convs;
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
