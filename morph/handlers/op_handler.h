#pragma once
// What an op kind means to structure learning, in one object per op family (morph-net's op
// handlers, in C++). The passes of morph/ walk the analysed nodes and ask each node's handler:
//   grouping      how its output channels relate to its inputs' (ChannelGroups)
//   role          which kind of regularization source its channels are (conv filters, batch-norm
//                 scales, gate logits, compactor rows)
//   placement     where an input's channels land in its output, for ops that move channels
//                 without mixing them (the reshape's channel plan)
//   constants     what a constant input channel becomes (ResRep's merge of masked channels)
//   reshape       how its parameters are sliced and its op rebuilt for fewer channels
//   cost          whether the compute (FLOPs, size) and memory (latency) models count it
// The table (handler_table.cpp) holds one row per OpKind; a kind without a row is refused by name.
#include <optional>
#include <vector>

#include "core/graph.h"
#include "morph/channel_plan.h"
#include "morph/channel_walk.h"

namespace mt::morph {

class ChannelGroups;
class ConstantPropagation;
class ReshapePlanner;
struct CostOp;

// Which list of a ChannelGroup a node's output channels join.
enum class ChannelRole : uint8_t {
  none,
  filters,    // conv (not depthwise) and linear outputs: GroupLasso's sources
  batchnorm,  // batch-norm scales: Gamma's
  gate,       // gate logits: LogisticSigmoid's
  compactor,  // ResRep's compactor rows
};

class OpHandler {
 public:
  virtual ~OpHandler() = default;

  // The atoms of the node's first output.
  virtual Atoms group(ChannelWalk& walk, int node) const = 0;
  virtual ChannelRole role(const ChannelGroups& /*groups*/, int /*node*/) const { return ChannelRole::none; }
  // Whether the learned structure lists the node's alive channels (ops with per-channel
  // parameters of their own).
  virtual bool reports_alive() const { return false; }

  // Where input i's channels land in the output, for ops that move channels without mixing
  // them; nullopt where the output's channels are new (convs, linears) or i is not an activation.
  virtual std::optional<Placement> placement(const ChannelGroups& /*groups*/, int /*node*/, size_t /*i*/) const {
    return std::nullopt;
  }
  // The output's channels in the reshaped model, for a node with a placement: by default every
  // positional input must list the same channels (one-to-one ops).
  virtual Slots moved_slots(const ChannelGroups& groups, const ChannelPlan& plan, int node,
                            const ChannelSelection& s) const;
  // Whether moved_slots must equal the slots that the output's groups give (false for flatten,
  // which lays out each copy's features together).
  virtual bool slots_follow_groups() const { return true; }

  // Per channel of the output: the constant it carries given its inputs' (NaN: varies).
  virtual std::vector<double> constants(const ConstantPropagation& p, int node) const;

  // Plans the slim parameters and op. By default an op with parameters or buffers must keep its
  // channels; one without has nothing to plan.
  virtual void plan_reshape(ReshapePlanner& r, int node) const;

  // Counted by the FLOPs and model-size models (with weight_coeffs), and by the latency model.
  virtual bool counts_compute() const { return false; }
  virtual bool counts_memory() const { return false; }
  // Sets flop_coeff, weight_coeff, has_bias and depthwise for an op that counts_compute.
  virtual void weight_coeffs(const ChannelGroups& /*groups*/, CostOp& /*op*/) const {}
  // Whether the cost model reads the op's input channels off its output (concat: its inputs are
  // the output's channels split up, as MorphNet counts it).
  virtual bool cost_reads_output() const { return false; }
};

// The row of node's kind. Throws ShapeError "cannot handle op 'x' of kind Y: ..." when the kind
// has none.
const OpHandler& handler_for(const Graph& g, int node);
// The row of a kind; nullptr when the table has none.
const OpHandler* find_handler(OpKind kind);

}  // namespace mt::morph
