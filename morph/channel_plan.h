#pragma once
// Where every channel of a reshaped model comes from: for each value of the dense graph, the list
// of its channels (features, for 2-D values) in the reshaped model, each naming a dense channel.
//
// Order. Every value keeps its surviving channels in dense order, and a channel's new copies
// (width expansion) sit right after it. That one rule gives every value of a group the same
// order, so the ops between them stay consistent without any permutation:
// - add / mul / pass-through ops: both sides list the same groups position by position;
// - concat: its inputs' lists side by side;
// - channel_pad (option-A shortcut): the dense output is [pad_before zeros, input, pad_after
//   zeros], each zero channel tied (by the residual add) to a channel of the stage's convs. The
//   kept zeros before the input stay before it, the kept input channels stay contiguous and in
//   the input's order, the kept zeros after stay after: the slim op is again a channel_pad, with
//   pad_before / pad_after = the kept zero channels on each side. The next stage's channel_pad
//   pads this stage the same way.
// - flatten: each surviving channel's H x W features, in the channel's order, so a linear after
//   it loses exactly the columns of the removed channels.
#include <cstdint>
#include <vector>

#include "morph/channel_selection.h"

namespace mt::morph {

// One channel of the reshaped model.
struct Slot {
  int64_t index = 0;  // the dense channel (feature) it comes from
  int64_t copy = 0;   // 0: that channel itself (its weights copy); k > 0: its k-th new copy
  bool operator==(const Slot&) const = default;
};
using Slots = std::vector<Slot>;

struct ChannelPlan {
  // Per value of the dense graph: the reshaped value's channels. Empty for values outside the
  // analysed part (params, buffers, labels, the loss).
  std::vector<Slots> slots;
  // Per value: the group of every dense channel, with the constant zero channels of a
  // channel_pad given the group of the channel they are added to (kNone where nothing ties them).
  std::vector<std::vector<int>> groups;
};

// Throws ShapeError if some op would see inconsistent channels (a bug, or a graph whose ties the
// channel groups do not describe). Values that would lose every channel must have been revived
// first (revive_empty_values).
ChannelPlan plan_channels(const ChannelGroups& groups, const ChannelSelection& selection);

// Whether the slots are the dense value's channels unchanged.
bool is_identity(const Slots& slots, int64_t dense_channels);

// Input channel c of an op that moves channels without mixing them lands on output position
// offset + c x per_channel (flatten spreads a channel over H x W features).
struct Placement {
  int64_t offset = 0;
  int64_t per_channel = 1;
};

// The slots of a value whose channels belong to `groups` (kNone: kept once), each kept channel
// followed by its new copies.
Slots slots_from_groups(const std::vector<int>& groups, const ChannelSelection& s);
// `in` moved as p says (each slot spread over p.per_channel features).
Slots shifted_slots(const Slots& in, const Placement& p);

}  // namespace mt::morph
