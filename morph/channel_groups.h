#pragma once
// Channel groups: which channels of a model graph must be kept or removed together.
//
// Every output channel of a conv2d (and of a hidden linear) is an atom; ops that keep channels
// (batch norm, ReLU, sigmoid, dropout, pooling, gates) pass their input's atoms through; a
// residual `add` unites its inputs channel by channel; `concat` lays its inputs' atoms side by
// side; `channel_pad` (the option-A shortcut) moves input channel i to pad_before + i and fills
// the rest with constant zeros that tie nothing; a depthwise conv (groups == in == out channels)
// keeps its input's atoms; a ResRep compactor (core/ops/compactor.h) ties output channel i to
// input channel i, as it is merged into its conv; flatten repeats each channel's atom over its H x W features, so a
// linear layer sees which channels its inputs come from. The connected components of this
// union-find are the groups (MorphNet's OpGroups, at channel granularity).
//
// Channels that can never be removed get no group (-1): the image channels, the logits, the
// inputs and outputs of a grouped conv that is not depthwise (1 < groups, or a depth multiplier:
// removing one channel would unbalance its groups), and the constant zero channels of
// channel_pad. A component holding any such atom is not prunable as a whole. Each rule is its op
// kind's handler (morph/handlers/); an op whose kind has no handler is an error naming it.
//
// Only the ops that the logits depend on are analysed (MorphNet crawls from the output boundary
// back to the input boundary): the loss and anything beside the classifier path are ignored.
#include <cstdint>
#include <string>
#include <vector>

#include "core/graph.h"

namespace mt::morph {

// The three kinds of regularization sources, one per method.
enum class SourceKind : uint8_t {
  conv,       // output channel of a conv2d (groups 1) or a hidden linear: GroupLasso
  batchnorm,  // batch-norm channel (its scale): Gamma
  gate,       // gate channel (its logit): LogisticSigmoid
};

// Output channel `channel` of graph node `node`.
struct ChannelRef {
  int node = -1;
  int64_t channel = 0;
};

struct ChannelGroup {
  std::vector<ChannelRef> convs;
  std::vector<ChannelRef> batchnorms;
  std::vector<ChannelRef> gates;
  // Compactor rows (ResRep's masks act on them; not a source of the MorphNet methods).
  std::vector<ChannelRef> compactors;
  const std::vector<ChannelRef>& sources(SourceKind kind) const;
};

class ChannelGroups {
 public:
  static constexpr int kNone = -1;  // not prunable, or a constant zero channel

  // Analyses the part of `graph` between its inputs and `logits`. Throws ShapeError if the graph's
  // shapes do not infer.
  ChannelGroups(const Graph& graph, ValueId logits);

  const Graph& graph() const { return graph_; }
  ValueId logits() const { return logits_; }
  int num_groups() const { return static_cast<int>(groups_.size()); }
  const ChannelGroup& group(int g) const { return groups_.at(g); }

  // Per channel (4-D values) or feature (2-D values) of `v`: its group or kNone. Empty for values
  // outside the analysed part (params, buffers, the loss, labels).
  const std::vector<int>& channel_groups(ValueId v) const { return value_groups_.at(v); }
  int group_of(ValueId v, int64_t channel) const { return value_groups_.at(v).at(channel); }
  // The analysed nodes, in graph (topological) order.
  const std::vector<int>& nodes() const { return nodes_; }
  // Shapes of every value for one sample ([1, C, H, W] or [1, K]).
  const std::vector<Shape>& shapes() const { return shapes_; }

  // The parameter a source reads: the conv/linear weight, the batch-norm scale, the gate logits.
  ValueId source_param(SourceKind kind, int node) const;
  // "layer1.0.bn1[3]": the group's first source (conv, then batch norm, then gate), for logs.
  std::string group_name(int g) const;
  // One line per group with every member: a debugging aid.
  std::string describe() const;

 private:
  const Graph& graph_;
  ValueId logits_;
  std::vector<Shape> shapes_;
  std::vector<int> nodes_;
  std::vector<std::vector<int>> value_groups_;
  std::vector<ChannelGroup> groups_;
};

// Whether a conv2d node keeps its input's channels one to one (groups == in == out channels).
bool is_depthwise_conv(const Graph& graph, const std::vector<Shape>& shapes, int node);

}  // namespace mt::morph
