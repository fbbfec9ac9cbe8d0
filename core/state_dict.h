#pragma once
// Loading named tensors into a graph's parameters and buffers, with PyTorch's strict-loading
// report: every missing key, unexpected key and size mismatch in one error.
#include <string>
#include <utility>
#include <vector>

#include "core/graph.h"

namespace mt {


// Copies each tensor into the param or buffer of that name (converting layout and f32/f64).
// strict: a graph entry without a tensor, or a tensor without a graph entry, is an error too.
// Nothing is copied unless everything fits.
void load_state_dict(Graph& graph, const NamedTensors& tensors, bool strict = true);

}  // namespace mt
