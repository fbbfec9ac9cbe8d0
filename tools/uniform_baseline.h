#pragma once
// The question every user of structure learning asks: did it pay? pipeline.baseline: uniform
// answers it in the same run. The dense network, every width scaled by one multiplier
// (model.width_multiplier) to the slim model's FLOPs, is trained with the retrain phase's own
// recipe (pipeline.retrain_epochs, the same schedule and seed, fresh weights) in <run>/baseline/,
// and the report puts it beside the learned structure: accuracy, FLOPs, parameters, speed.
#include <filesystem>
#include <optional>

#include "layers/zoo/model.h"
#include "tools/config.h"
#include "tools/experiment.h"
#include "tools/pipeline_state.h"
#include "trainers/communicator.h"

namespace mt::tools {

// The largest width multiplier (to 1e-3) whose plain network (no gates, no compactors) costs at
// most `flops` FLOPs; at least the smallest multiplier the zoo builds.
double uniform_multiplier(const Config& config, const Dataset& train, double flops);

// The plain network scaled by `multiplier`, with fresh weights.
layers::Model uniform_model(const Config& config, const Dataset& train, double multiplier);

// pipeline.baseline: uniform: trains the baseline to the FLOPs of `slim` (resuming or loading a
// finished phase as the others do) and returns it; nullopt when the baseline is off.
std::optional<layers::Model> train_uniform_baseline(const Config& config, const layers::Model& slim,
                                                    const DataSplits& data, const std::filesystem::path& run,
                                                    PipelineState& state, Communicator& comm);

}  // namespace mt::tools
