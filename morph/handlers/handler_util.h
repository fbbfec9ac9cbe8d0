#pragma once
// Small pieces several handlers share.
#include <optional>

#include "core/graph_queries.h"
#include "morph/channel_groups.h"
#include "morph/handlers/op_handler.h"

namespace mt::morph {

// Placement p for input i when it is an activation (parameters never move channels).
inline std::optional<Placement> if_activation(const ChannelGroups& groups, int node, size_t i, Placement p = {}) {
  if (!is_activation_value(groups.graph(), groups.graph().node(node).inputs[i])) return std::nullopt;
  return p;
}

// Ops whose output channel c is input channel c, transformed on its own (batch norm, ReLU,
// pooling, dropout, gates): the output keeps the input's atoms.
class PassThroughHandler : public OpHandler {
 public:
  Atoms group(ChannelWalk& walk, int node) const override {
    return walk.atoms(walk.graph().node(node).inputs[0]);
  }
  std::optional<Placement> placement(const ChannelGroups& groups, int node, size_t i) const override {
    if (i != 0) return std::nullopt;
    return if_activation(groups, node, i);
  }
};

}  // namespace mt::morph
