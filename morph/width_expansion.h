#pragma once
// Width expansion, MorphNet's last step: scale the learned structure uniformly until it costs
// what the budget allows (the "uniform width multiplier" of the paper, applied to the learned
// widths, not the seed's).
//
// What is scaled. Channel groups are single tied channels; what has a width is a *block*: the
// groups that appear in exactly the same conv / linear outputs. A plain conv's output channels
// form one block; a ResNet stage's trunk (every conv2 of the stage, the stem or the B shortcut's
// 1x1 conv) is one block; with option-A shortcuts a later stage's trunk is the earlier stage's
// block plus a block of the channels that were zero padding there. A block with a alive
// channels gets n = round(multiplier x a) channels, at least 1 (blocks with none stay empty),
// rounded to a multiple of `multiple` if asked (oneDNN's blocked kernels run much faster on
// multiples of 8 or 16). What the kernels see is a layer's width, the sum of its blocks' widths,
// so a block nested in others (its layers are a subset of theirs, as an option-A stage's zero
// channels are of the earlier trunk's) is rounded so that it and the blocks around it sum to a
// multiple: a 1-channel stage-1 trunk makes stage 2's zero-channel block 15 wide, not 16, and its
// trunk 16, not 17. Blocks that overlap without nesting are rounded each on its own.
//
// Which channels fill n: the alive ones first (highest score, then lowest group id, when n is
// below the alive count), then dead ones of the dense model (revived: they have weights to copy),
// then, past the dense width, new copies (ChannelSelection::copies > 1; they start freshly
// initialised, see reshape.h). With `grow = false` a block never passes its dense width.
// MorphNet grows past it (its recipe retrains from scratch), so growing is the default; reshape
// the result with ReshapeInit::fresh to retrain from scratch, or ReshapeInit::copy to keep the
// surviving weights and start only the new channels fresh.
#include <map>
#include <string>
#include <vector>

#include "layers/zoo/model.h"
#include "morph/channel_selection.h"
#include "morph/cost_model.h"

namespace mt::morph {

// A layer with a width of its own: a conv2d that is not depthwise, or a linear, that does not
// produce the logits (the layers of MorphNet's learned_structure.json, plus hidden linears).
bool is_width_layer(const ChannelGroups& groups, int node);

struct WidthBlock {
  std::string name;                 // the first layer holding these channels, "#k" if repeated
  std::vector<std::string> layers;  // every conv / linear output that holds them
  std::vector<int> groups;          // ascending
};

// The blocks of a model, in the order of their first group.
std::vector<WidthBlock> width_blocks(const ChannelGroups& groups);

struct ExpansionOptions {
  int64_t multiple = 1;  // round every block's width to a multiple of this (8, 16)
  // Blocks whose scaled width is at most this many channels keep it unrounded: thin layers have
  // kernels of their own (kernels/cpu/conv_thin.h), and rounding 3 channels up to 16 would spend
  // the budget where it buys no speed.
  int64_t exact_up_to = 0;
  bool grow = true;      // allow widths beyond the dense model's
  // By layer name: the layer widths a measured latency table favours (morph/liked_widths.h),
  // ascending, the dense width last. A block whose first layer is listed takes its layer width
  // (with the blocks it is nested in) from the widths all its listed layers of that dense width
  // favour, the nearest one; never past the dense width whatever `grow` says (the table knows
  // nothing wider); `multiple` and `exact_up_to` then do not apply to it.
  std::map<std::string, std::vector<int64_t>> liked_widths = {};
};

// The resource a selection costs (copies count as channels), for the model the cost model was
// built on: equals CostModel::cost(alive) when no group has more than one copy.
double structure_cost(const CostModel& costs, const ChannelSelection& selection);

struct Expansion {
  double multiplier = 1;
  double cost = 0;    // of `selection`
  double target = 0;
  ChannelSelection selection;
};

// Scales and fits selections of one dense model; holds its channel groups and blocks.
class WidthExpander {
 public:
  WidthExpander(const layers::Model& dense, ExpansionOptions options = {});

  const ChannelGroups& groups() const { return groups_; }
  const std::vector<WidthBlock>& blocks() const { return blocks_; }
  // The alive width of every block under `s` (copies counted).
  std::vector<int64_t> block_widths(const ChannelSelection& s) const;

  ChannelSelection scale(const ChannelSelection& s, double multiplier) const;
  // `s` with block b holding widths[b] channels (its best-scored first; 0 leaves it as it is).
  ChannelSelection with_block_widths(const ChannelSelection& s, const std::vector<int64_t>& widths) const;
  // The selection closest to `target` without passing it: the multiplier found by bisection
  // (the cost grows with it in steps), then blocks widened one rounding step at a time while the
  // budget allows. Above the target only when even the narrowest selection is.
  Expansion fit(const ChannelSelection& s, double target, const CostOptions& cost) const;

 private:
  // Block b's width for about `width` channels, rounded so that with the blocks it is nested in
  // (their widths in `widths`) its first layer's width is a multiple, never past the dense width
  // unless growing.
  int64_t rounded(size_t b, double width, const std::vector<int64_t>& widths) const;
  // Block b's width one rounding step above its width in `widths`, or that width when the step
  // would pass the cap.
  int64_t next_width(size_t b, const std::vector<int64_t>& widths) const;
  // One rounding step below (at least one channel, or one multiple of the layer).
  int64_t previous_width(size_t b, const std::vector<int64_t>& widths) const;
  // Re-rounds the nested blocks after the blocks around them changed width.
  void align(std::vector<int64_t>& widths) const;
  int64_t enclosing_width(size_t b, const std::vector<int64_t>& widths) const;
  // The liked layer widths block b may take, given the width of the blocks around it: those
  // leaving it at least one channel and at most its dense width. Empty when b has no liked list.
  std::vector<int64_t> liked_layer_widths(size_t b, const std::vector<int64_t>& widths) const;

  ExpansionOptions options_;
  ChannelGroups groups_;
  std::vector<WidthBlock> blocks_;
  std::vector<std::vector<size_t>> enclosing_;  // per block: the blocks whose layers strictly contain its
  std::vector<size_t> outer_first_;             // block indices, enclosing blocks before the ones inside
  std::vector<std::vector<int64_t>> liked_;  // per block: its liked layer widths (empty: none)
};

// One-call forms of the above.
ChannelSelection scale(const layers::Model& dense, const ChannelSelection& s, double multiplier,
                       const ExpansionOptions& options = {});
double find_multiplier(const layers::Model& dense, const ChannelSelection& s, double target_cost,
                       const CostOptions& cost, const ExpansionOptions& options = {});

}  // namespace mt::morph
