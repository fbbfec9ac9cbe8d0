#pragma once
// From what structure learning ended with to the structure the pipeline builds: the alive
// channels, trimmed to the budget when the learned structure is still above it (the groups with
// the smallest regularization values go first: a higher threshold, not a new criterion), or
// expanded to it when learning overshot; MorphNet's width expansion to a target cost; rounding
// to kernel-friendly widths.
#include <memory>
#include <string>
#include <vector>

#include "layers/zoo/model.h"
#include "morph/channel_selection.h"
#include "morph/latency_table.h"
#include "morph/network_regularizer.h"

namespace mt::tools {

struct StructureChoice {
  morph::ChannelSelection selection;
  double learned_cost = 0;   // of the alive channels as learning left them
  double trimmed_cost = 0;   // after trimming to the budget (= learned_cost when not needed)
  double final_cost = 0;     // after expansion / rounding
  int64_t trimmed_groups = 0;
  double multiplier = 1;     // width expansion (1: none)
  std::vector<std::string> notes;  // what was done, for the log and the report
};

struct StructureChoiceOptions {
  double budget_fraction = 0;   // > 0: trim to this fraction of the dense cost, or expand to it
                                // when learning left the structure more than 5% below
  double expand_fraction = 0;   // > 0: expand / shrink uniformly to this fraction
  int64_t round_to = 1;         // widths rounded to a multiple of this
  // When set, each layer found in it takes a width the table favours instead
  // (morph/liked_widths.h): the measured runtime's own idea of a good width.
  std::shared_ptr<const morph::LatencyTable> width_table;
  double max_flops_fraction = 0;  // > 0: at most this fraction of the dense FLOPs, whatever the budget's unit
};

StructureChoice choose_structure(const layers::Model& dense, const morph::NetworkRegularizer& reg,
                                 const StructureChoiceOptions& options);

}  // namespace mt::tools
