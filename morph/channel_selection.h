#pragma once
// Which channels a reshaped model has: per channel group of the dense model
// (ChannelGroups(dense.graph, dense.logits)), how many copies of that group's channel.
//
// A channel group (channel_groups.h) is one channel slot tied across every value it appears in: a
// conv's output channel c through its batch norm, ReLU, gate and depthwise conv; a residual
// trunk's channel c in every block of the stage (and, with option-A shortcuts, in the later
// stages it is padded into). So a selection is one count per group:
//   0      the channel is removed from every value it appears in;
//   1      it is kept, and its weights can be copied from the dense model;
//   n > 1  kept, with n - 1 new channels beside it in every value (width expansion beyond the
//          dense width): new channels have no dense weights and start freshly initialised.
// Channels of no group (the images, the logits, grouped convs) are always kept, once.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "morph/channel_groups.h"

namespace mt::morph {

class NetworkRegularizer;

struct ChannelSelection {
  std::vector<int64_t> copies;  // per group
  // Optional (empty or one per group): how much each group matters, e.g. its regularization
  // value. Where a choice is free (reviving a channel of a layer that lost all of them, filling a
  // rounded width), higher scores win, then lower group ids.
  std::vector<double> score;

  int num_groups() const { return static_cast<int>(copies.size()); }
  bool alive(int g) const { return copies.at(g) > 0; }
  std::vector<bool> alive_groups() const;
  int64_t alive_count() const;
  // The score of group g, 0 when there are none.
  double score_of(int g) const { return score.empty() ? 0.0 : score.at(g); }
};

// Every channel once: the dense model itself.
ChannelSelection keep_all(const ChannelGroups& groups);
// One copy of every alive group (NetworkRegularizer::group_alive(), CostModel's input).
ChannelSelection selection_from_alive(const std::vector<bool>& group_alive,
                                      std::vector<double> score = {});
// The regularizer's alive bits now, scored by its regularization values.
ChannelSelection selection_from_regularizer(const NetworkRegularizer& reg);

// Per-op alive bits of the output channels (NetworkRegularizer::alive_vectors(), the
// structure report's "alive_vectors"). Each listed op decides the groups of its output channels;
// groups no listed op touches stay alive. ConfigError for an op the graph does not have (or that
// is not between the images and the logits), a wrong length, a channel of no group marked dead,
// or two ops that disagree about one tied channel (the message names both).
ChannelSelection selection_from_vectors(const ChannelGroups& groups,
                                        const std::map<std::string, std::vector<bool>>& vectors);

// The general form of the above: per listed op, the copies of each output channel (0, 1, or more
// to grow). Same checks.
ChannelSelection selection_from_layer_copies(const ChannelGroups& groups,
                                             const std::map<std::string, std::vector<int64_t>>& copies);

// Per-layer alive counts (MorphNet's learned_structure.json): layer -> k keeps the first k output
// channels of that layer. Ops that share channels must agree on them; otherwise a ConfigError
// names both layers. NB: with option-A shortcuts a later stage's channels are [zeros, earlier
// stage, zeros], so "the first k" rarely agrees with the earlier stage's count: such structures
// need the per-channel file of structure_file.h.
ChannelSelection selection_from_counts(const ChannelGroups& groups,
                                       const std::map<std::string, int64_t>& counts);

// A value that would lose every channel makes the graph invalid: for each such value (in graph
// order) one of its groups is kept, the one with the highest score, else the first. Returns one
// line per revived group for the log.
std::vector<std::string> revive_empty_values(const ChannelGroups& groups, ChannelSelection& selection);

}  // namespace mt::morph
