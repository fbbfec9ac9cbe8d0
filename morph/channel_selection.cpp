#include "morph/channel_selection.h"

#include <algorithm>

#include "morph/network_regularizer.h"

namespace mt::morph {

namespace {

// Collects per-group decisions from several ops and reports the first disagreement by name.
class Decisions {
 public:
  explicit Decisions(const ChannelGroups& groups)
      : groups_(groups), copies_(groups.num_groups(), -1), by_(groups.num_groups()) {}

  void set(int g, int64_t copies, const std::string& op, int64_t channel) {
    const std::string who = op + "[" + std::to_string(channel) + "]";
    if (copies_[g] >= 0 && copies_[g] != copies) {
      MT_FAIL(ConfigError, "[reshape] ", by_[g], " and ", who, " share one channel (group ", g,
              ", ", groups_.group_name(g), ") but ", by_[g], " is ", verb(copies_[g]), " and ",
              who, " is ", verb(copies), "; tied layers must keep the same channels");
    }
    copies_[g] = copies;
    by_[g] = who;
  }
  // Undecided groups stay alive.
  ChannelSelection result() const {
    ChannelSelection s;
    s.copies.reserve(copies_.size());
    for (int64_t c : copies_) s.copies.push_back(c < 0 ? 1 : c);
    return s;
  }

 private:
  static std::string verb(int64_t copies) {
    return copies == 0 ? "removed" : copies == 1 ? "kept" : "kept " + std::to_string(copies) + " times";
  }

  const ChannelGroups& groups_;
  std::vector<int64_t> copies_;
  std::vector<std::string> by_;
};

// The output channel groups of an analysed op, by name.
const std::vector<int>& output_groups(const ChannelGroups& groups, const std::string& op) {
  const int node = groups.graph().find_node(op);
  MT_CHECK(node >= 0, ConfigError, "[reshape] the model has no layer '", op, "'");
  const ValueId y = groups.graph().node(node).outputs[0];
  MT_CHECK(!groups.channel_groups(y).empty(), ConfigError, "[reshape] layer '", op,
           "' is not between the images and the logits");
  return groups.channel_groups(y);
}

}  // namespace

std::vector<bool> ChannelSelection::alive_groups() const {
  std::vector<bool> out(copies.size());
  for (size_t g = 0; g < copies.size(); ++g) out[g] = copies[g] > 0;
  return out;
}

int64_t ChannelSelection::alive_count() const {
  return std::count_if(copies.begin(), copies.end(), [](int64_t c) { return c > 0; });
}

ChannelSelection keep_all(const ChannelGroups& groups) {
  return {std::vector<int64_t>(groups.num_groups(), 1), {}};
}

ChannelSelection selection_from_alive(const std::vector<bool>& group_alive, std::vector<double> score) {
  MT_CHECK(score.empty() || score.size() == group_alive.size(), ShapeError, "[reshape] ",
           score.size(), " scores for ", group_alive.size(), " channel groups");
  ChannelSelection s;
  for (bool a : group_alive) s.copies.push_back(a ? 1 : 0);
  s.score = std::move(score);
  return s;
}

ChannelSelection selection_from_regularizer(const NetworkRegularizer& reg) {
  GroupState state = reg.group_regularizer().evaluate();
  return selection_from_alive(state.alive, std::move(state.reg));
}

ChannelSelection selection_from_layer_copies(const ChannelGroups& groups,
                                             const std::map<std::string, std::vector<int64_t>>& copies) {
  Decisions d(groups);
  for (const auto& [op, counts] : copies) {
    const std::vector<int>& out = output_groups(groups, op);
    MT_CHECK(counts.size() == out.size(), ConfigError, "[reshape] layer '", op, "' has ", out.size(),
             " output channels, its channel list ", counts.size());
    for (size_t c = 0; c < out.size(); ++c) {
      MT_CHECK(counts[c] >= 0, ConfigError, "[reshape] layer '", op, "': channel ", c,
               " has a negative count ", counts[c]);
      if (out[c] != ChannelGroups::kNone) {
        d.set(out[c], counts[c], op, static_cast<int64_t>(c));
        continue;
      }
      MT_CHECK(counts[c] == 1, ConfigError, "[reshape] channel ", c, " of layer '", op,
               "' cannot be removed or copied (it is tied to the images, the logits or a grouped conv)");
    }
  }
  return d.result();
}

ChannelSelection selection_from_vectors(const ChannelGroups& groups,
                                        const std::map<std::string, std::vector<bool>>& vectors) {
  std::map<std::string, std::vector<int64_t>> copies;
  for (const auto& [op, bits] : vectors) copies[op].assign(bits.begin(), bits.end());
  return selection_from_layer_copies(groups, copies);
}

ChannelSelection selection_from_counts(const ChannelGroups& groups,
                                       const std::map<std::string, int64_t>& counts) {
  std::map<std::string, std::vector<bool>> vectors;
  for (const auto& [op, k] : counts) {
    const int64_t width = static_cast<int64_t>(output_groups(groups, op).size());
    MT_CHECK(k >= 0 && k <= width, ConfigError, "[reshape] layer '", op, "' has ", width,
             " output channels; cannot keep ", k);
    std::vector<bool> bits(width, false);
    std::fill(bits.begin(), bits.begin() + k, true);
    vectors[op] = std::move(bits);
  }
  return selection_from_vectors(groups, vectors);
}

std::vector<std::string> revive_empty_values(const ChannelGroups& groups, ChannelSelection& s) {
  MT_CHECK(s.num_groups() == groups.num_groups(), ShapeError, "[reshape] the selection has ",
           s.num_groups(), " channel groups, the model ", groups.num_groups());
  std::vector<std::string> log;
  for (int n : groups.nodes()) {
    const Node& node = groups.graph().node(n);
    const std::vector<int>& out = groups.channel_groups(node.outputs[0]);
    // A constant zero channel of a channel_pad (kNone here) is decided by the add it meets; that
    // add's output is checked too, so counting it as kept here is safe.
    const bool empty = !out.empty() && std::all_of(out.begin(), out.end(), [&](int g) {
      return g != ChannelGroups::kNone && s.copies[g] == 0;
    });
    if (!empty) continue;
    int best = out.front();
    for (int g : out)
      if (s.score_of(g) > s.score_of(best)) best = g;
    s.copies[best] = 1;
    log.push_back("every channel of '" + node.name + "' was removed; kept " +
                  groups.group_name(best) + " (group " + std::to_string(best) +
                  ") so that the graph stays valid");
  }
  return log;
}

}  // namespace mt::morph
