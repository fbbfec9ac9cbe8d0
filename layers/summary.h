#pragma once
// A per-layer table of a model graph: output shape, parameters and multiply-accumulates for one
// sample (what torchinfo and Keras' summary() print), with totals.
#include <cstdint>
#include <string>
#include <vector>

#include "core/graph.h"

namespace mt::layers {

struct LayerSummary {
  std::string name;
  std::string kind;
  Shape output;     // batch 1
  int64_t params = 0;
  int64_t macs = 0;
};

struct ModelSummary {
  std::vector<LayerSummary> layers;
  int64_t total_params = 0;
  int64_t total_macs = 0;
  int64_t total_buffers = 0;  // running statistics and counters (not parameters)
};

ModelSummary summarize(const Graph& graph);
// The table as text, aligned, with a totals footer.
std::string format_summary(const ModelSummary& summary);

}  // namespace mt::layers
