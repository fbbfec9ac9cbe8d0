#pragma once
// The learned structure as JSON.
//
// learned_structure(): MorphNet's StructureExporter format, {"op name": alive output channels},
// keys sorted, for every conv2d that is not depthwise (MorphNet: Conv2D) and, beyond MorphNet,
// every hidden linear (a reshaper needs their widths too), whose outputs the method regularizes.
// A depthwise conv follows its input's width and is left out, as in MorphNet.
//
// structure_report(): the same plus everything a report or a reshaper wants: the regularizer,
// its threshold, term, cost before and after, per-op alive counts and costs, the alive vector of
// every conv / linear / batch norm / gate output, and every group's value and members.
#include <string>

#include <nlohmann/json.hpp>

#include "morph/network_regularizer.h"

namespace mt::morph {

nlohmann::json learned_structure(const NetworkRegularizer& reg);
nlohmann::json structure_report(const NetworkRegularizer& reg);

// Written whole or not at all (core/atomic_file.h), indented by 2 as MorphNet's json.dumps.
void write_learned_structure(const std::string& path, const NetworkRegularizer& reg);
void write_structure_report(const std::string& path, const NetworkRegularizer& reg);

}  // namespace mt::morph
