#pragma once
// A learned (or expanded) structure as a file: with the dense model's config it is all a
// pruned model needs to be rebuilt (reshape.h).
//
//   {
//     "format": "morphtrain.structure", "version": 1,
//     "model": "resnet20",
//     "groups": 400,                      the dense model's channel groups: a check that the
//                                         file belongs to this config
//     "learned_structure": {"conv1": 12, ...},
//                                         MorphNet's per-layer widths (structure_export.h's
//                                         learned_structure, here of every width layer)
//     "layers": {"conv1": {"width": 16, "channels": [0, 2, 3, ...]}, ...}
//   }
//
// "layers" lists every width layer (width_expansion.h: non-depthwise convs and hidden linears):
// its dense width and the dense output channels the structure keeps, in order, a channel listed
// once per copy (a channel listed twice gained a new channel beside it). Every channel group has
// a channel in some width layer's output, so the lists fix the whole selection; tied layers list
// the same channels.
//
// structure_from_json also reads MorphNet's learned_structure.json (a flat object of layer ->
// count) and this format without "layers", keeping the first k channels of each layer
// (selection_from_counts).
#include <string>

#include <nlohmann/json.hpp>

#include "layers/zoo/model.h"
#include "morph/channel_selection.h"

namespace mt::morph {

nlohmann::json structure_to_json(const ChannelSelection& selection, const layers::Model& dense);
// ConfigError when the file does not fit the model (other groups, widths or layers, or tied
// layers that disagree), naming the layer.
ChannelSelection structure_from_json(const nlohmann::json& structure, const layers::Model& dense);

// Written whole or not at all (core/atomic_file.h), indented by 2.
void write_structure(const std::string& path, const ChannelSelection& selection,
                     const layers::Model& dense);
ChannelSelection read_structure(const std::string& path, const layers::Model& dense);
// The same from the file's text; `source` names it in errors (a checkpoint's copy, a fuzz input).
ChannelSelection parse_structure(const std::string& text, const std::string& source, const layers::Model& dense);

}  // namespace mt::morph
