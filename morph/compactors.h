#pragma once
// The ResRep compactors of a graph (core/ops/compactor.h): where each sits, which conv (and
// batch norm) it belongs to, and which channel groups ResRep may prune.
//
// A compactor reads its conv's batch norm (the builder's layout: conv -> BN -> compactor) or the
// conv itself. A channel group is prunable by ResRep when it has compactor rows and every conv
// (or hidden linear) output channel in it belongs to a conv with a compactor: masking the group
// zeroes those rows, and then every value of the group carries something that does not depend on
// the input (zero, or a constant after a later batch norm), which the merge can drop exactly.
#include <vector>

#include "morph/channel_groups.h"

namespace mt::morph {

struct CompactorInfo {
  int node = -1;          // the compactor
  int conv = -1;          // its conv2d (groups 1)
  int batchnorm = -1;     // the batch norm between them, -1 if none
  ValueId weight = -1;    // [C, C, 1, 1]
  std::vector<int> row_group;  // per output channel (row): its channel group, or kNone
};

// Every compactor the logits depend on, in graph order. Throws ShapeError for a compactor that
// does not follow a conv with groups 1 (directly or through one batch norm), or whose conv or
// batch norm output is read by anything else (it could not be folded).
std::vector<CompactorInfo> find_compactors(const ChannelGroups& groups);

// Per channel group: whether ResRep may mask it (see above).
std::vector<bool> resrep_prunable(const ChannelGroups& groups, const std::vector<CompactorInfo>& compactors);

}  // namespace mt::morph
