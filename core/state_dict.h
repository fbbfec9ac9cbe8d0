#pragma once
// Loading named tensors into a graph's parameters and buffers, with PyTorch's strict-loading
// report: every missing key, unexpected key and size mismatch in one error.
#include <string>
#include <utility>
#include <vector>

#include "core/graph.h"

namespace mt {

// How a set of named tensors lines up with a graph's state_dict.
struct StateDictMatch {
  std::vector<std::string> matched;     // names present in both with the same shape and kind
  std::vector<std::string> missing;     // graph entries without a tensor
  std::vector<std::string> unexpected;  // tensors without a graph entry
  std::vector<std::string> mismatched;  // "name: checkpoint [..] f32, model [..] f32"
};
StateDictMatch match_state_dict(const Graph& graph, const NamedTensors& tensors);

// Copies each tensor into the param or buffer of that name (converting layout and f32/f64).
// strict: a graph entry without a tensor, or a tensor without a graph entry, is an error too.
// Nothing is copied unless everything fits.
void load_state_dict(Graph& graph, const NamedTensors& tensors, bool strict = true);

// Copies the tensors `match.matched` names and nothing else (a partial load the caller has
// reported); `match` must come from match_state_dict(graph, tensors).
void load_matched(Graph& graph, const NamedTensors& tensors, const StateDictMatch& match);

// The PyTorch-style report of `match` ("\n  Missing key(s):\n    a\n    b..."); the missing and
// unexpected lists only when `strict`. Empty when there is nothing to say.
std::string state_dict_report(const StateDictMatch& match, bool strict);

}  // namespace mt
