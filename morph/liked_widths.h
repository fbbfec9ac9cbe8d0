#pragma once
// The layer widths a measured latency table (morph/latency_table.h) says its runtime runs well,
// for rounding a learned structure (morph/width_expansion.h). Blocked kernels pad a layer to their
// block, so a narrower layer can cost as much as a wider one, or more: in the committed 2-core
// table (configs/hardware/resnet20_fmnist_2core.json) ResNet-20's 32 -> 32 convolution at 14x14
// takes 964 us with 8 filters and 691 us with 16. A width is liked when every wider width the
// table measured costs more (by more than `tolerance`): the measured widths on the front of width
// against latency. A width no wider one matches is worth its cost; one that a wider width matches
// wastes the difference.
//
// The latencies read are those along the output side at the layer's dense input width (the
// table's last row): the widths a layer's filters are padded to. Widths between the table's grid
// points were not measured, so they are not liked either; the grid's last point, the dense width,
// always is.
#include <map>
#include <string>
#include <vector>

#include "morph/cost_model.h"
#include "morph/latency_table.h"

namespace mt::morph {

inline constexpr double kLikedWidthTolerance = 0.03;

// Ascending; never empty for a valid entry.
std::vector<int64_t> liked_widths(const LatencyEntry& e, double tolerance = kLikedWidthTolerance);

// By layer name, for every conv2d and linear of `costs` that `table` measured.
std::map<std::string, std::vector<int64_t>> liked_widths_by_layer(const CostModel& costs, const LatencyTable& table,
                                                                  double tolerance = kLikedWidthTolerance);

}  // namespace mt::morph
