#pragma once
// What the reshaper rebuilds, as each op's handler (morph/handlers/) plans it: per dense node its
// slim op, per dense parameter or buffer how it is sliced and how its fresh entries start.
#include <cstdint>
#include <vector>

#include "morph/channel_groups.h"
#include "morph/channel_plan.h"

namespace mt::morph {

// What a fresh parameter starts as (layers/builder.h's initialisations).
enum class ParamInit : uint8_t { none, conv_weight, uniform, ones, zeros, gate_logits };

// How one parameter (or buffer) is rebuilt: the slots along its first two axes (null: that axis
// is unchanged) and how its fresh entries start.
struct ParamPlan {
  ParamInit init = ParamInit::none;
  const Slots* rows = nullptr;
  const Slots* cols = nullptr;
  double bound = 0;  // ParamInit::uniform
  bool planned = false;
};

class ReshapePlanner {
 public:
  ReshapePlanner(const ChannelGroups& groups, const ChannelPlan& plan);

  const ChannelGroups& groups() const { return groups_; }
  const Graph& graph() const { return groups_.graph(); }
  const Slots& slots(ValueId v) const { return plan_.slots[v]; }

  // Plans v; a parameter read by two ops must be planned the same way by both.
  void plan_param(ValueId v, ParamPlan p);
  // The slim op of `node` (by default the dense one).
  void replace_op(int node, OpPtr op) { ops_[node] = std::move(op); }
  // Throws unless every activation the node reads or writes keeps its channels unchanged.
  void require_unchanged(int node) const;

  const std::vector<OpPtr>& ops() const { return ops_; }
  const std::vector<ParamPlan>& params() const { return params_; }

 private:
  const ChannelGroups& groups_;
  const ChannelPlan& plan_;
  std::vector<OpPtr> ops_;         // per dense node
  std::vector<ParamPlan> params_;  // per dense value
};

}  // namespace mt::morph
