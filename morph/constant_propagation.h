#pragma once
// The walk behind masked_constants: per value, per channel, the constant it carries in eval mode
// or NaN ("varies"). Each op's handler (morph/handlers/) computes its output from its inputs'.
#include <cmath>
#include <limits>
#include <vector>

#include "morph/channel_groups.h"
#include "morph/host_view.h"

namespace mt::morph {

using Channels = std::vector<double>;
inline constexpr double kVaries = std::numeric_limits<double>::quiet_NaN();

class ConstantPropagation {
 public:
  ConstantPropagation(const ChannelGroups& groups, const std::vector<bool>& masked)
      : groups_(groups), g_(groups.graph()), masked_(masked), c_(g_.num_values()) {}

  std::vector<Channels> run();

  const ChannelGroups& groups() const { return groups_; }
  const Graph& graph() const { return g_; }
  bool masked(int group) const { return masked_[group]; }
  // The constants of input i of `node`, and of any analysed value.
  const Channels& in(int node, size_t i = 0) const { return c_[g_.node(node).inputs[i]]; }
  const Channels& of(ValueId v) const { return c_[v]; }
  size_t channels(ValueId v) const {
    const Shape& s = groups_.shapes()[v];
    return s.rank() >= 2 ? static_cast<size_t>(s[1]) : 0;
  }
  // Every channel of v varies.
  Channels varying(ValueId v) const { return Channels(channels(v), kVaries); }
  HostView param(ValueId v) const { return HostView(g_.value(v).data, g_.value(v).name); }

 private:
  const ChannelGroups& groups_;
  const Graph& g_;
  const std::vector<bool>& masked_;
  std::vector<Channels> c_;
};

// f applied to every channel (NaN stays NaN for the functions used here).
inline Channels map_channels(const Channels& in, double (*f)(double)) {
  Channels out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = f(in[i]);
  return out;
}

}  // namespace mt::morph
