#pragma once
// The union-find walk behind ChannelGroups: every produced channel is an atom, and each op's
// handler (morph/handlers/) says how its output's atoms follow from its inputs' (fresh ones,
// its input's, or two inputs tied together). A pinned atom makes its whole component unprunable.
#include <cstdint>
#include <vector>

#include "core/graph.h"

namespace mt::morph {

// Per channel: an atom, or -1 for a constant zero channel (channel_pad's padding).
using Atoms = std::vector<int>;

class UnionFind {
 public:
  int make(bool pinned);
  int find(int a);
  void unite(int a, int b);
  void pin(int a) { pinned_[find(a)] = true; }
  bool pinned(int a) { return pinned_[find(a)]; }
  int size() const { return static_cast<int>(parent_.size()); }

 private:
  std::vector<int> parent_;
  std::vector<bool> pinned_;
};

class ChannelWalk {
 public:
  // shapes: batch-1 shapes of every value; logits: the output boundary.
  ChannelWalk(const Graph& g, const std::vector<Shape>& shapes, ValueId logits)
      : g_(g), shapes_(shapes), logits_(logits), atoms_(g.num_values()) {}

  // The images (and any other graph input): channels that can never be removed.
  void seed_input(ValueId v) { atoms_[v] = fresh(channels(v), true); }
  // Sets the atoms of `node`'s outputs from its handler's rule.
  void visit(int node);

  const Graph& graph() const { return g_; }
  ValueId logits() const { return logits_; }
  const Shape& shape(ValueId v) const { return shapes_[v]; }
  const std::vector<Shape>& shapes() const { return shapes_; }
  int64_t channels(ValueId v) const { return shapes_[v].rank() >= 2 ? shapes_[v][1] : 0; }
  const Atoms& atoms(ValueId v) const { return atoms_[v]; }
  UnionFind& uf() { return uf_; }

  // n new atoms, in order (their ids follow graph order, and so do the group ids).
  Atoms fresh(int64_t n, bool pinned);
  void pin(const Atoms& a);
  // Channel-by-channel tie of two equally long lists (add, mul): a constant zero channel takes
  // the other side's atom.
  Atoms tie(const Atoms& a, const Atoms& b);

 private:
  const Graph& g_;
  const std::vector<Shape>& shapes_;
  ValueId logits_;
  UnionFind uf_;
  std::vector<Atoms> atoms_;
};

}  // namespace mt::morph
