#include "morph/channel_walk.h"

#include <utility>

#include "morph/handlers/op_handler.h"

namespace mt::morph {

int UnionFind::make(bool pinned) {
  parent_.push_back(static_cast<int>(parent_.size()));
  pinned_.push_back(pinned);
  return parent_.back();
}

int UnionFind::find(int a) {
  while (parent_[a] != a) a = parent_[a] = parent_[parent_[a]];
  return a;
}

void UnionFind::unite(int a, int b) {
  a = find(a), b = find(b);
  if (a == b) return;
  if (b < a) std::swap(a, b);  // the older atom stays the root: ids follow graph order
  parent_[b] = a;
  pinned_[a] = pinned_[a] || pinned_[b];
}

Atoms ChannelWalk::fresh(int64_t n, bool pinned) {
  Atoms a(n);
  for (auto& x : a) x = uf_.make(pinned);
  return a;
}

void ChannelWalk::pin(const Atoms& a) {
  for (int x : a)
    if (x >= 0) uf_.pin(x);
}

Atoms ChannelWalk::tie(const Atoms& a, const Atoms& b) {
  MT_CHECK(a.size() == b.size(), ShapeError, "[channel_groups] elementwise op over ", a.size(), " and ",
           b.size(), " channels");
  Atoms out(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] >= 0 && b[i] >= 0) uf_.unite(a[i], b[i]);
    out[i] = a[i] >= 0 ? a[i] : b[i];
  }
  return out;
}

void ChannelWalk::visit(int node) {
  const Node& n = g_.node(node);
  atoms_[n.outputs[0]] = handler_for(g_, node).group(*this, node);
  // Extra outputs (no analysed kind has any) are treated as unprunable.
  for (size_t o = 1; o < n.outputs.size(); ++o) atoms_[n.outputs[o]] = fresh(channels(n.outputs[o]), true);
}

}  // namespace mt::morph
