#pragma once
// The config's `morph:` section turned into a regularizer and the training hook that applies it.
#include <memory>
#include <string>

#include "layers/zoo/model.h"
#include "morph/hardware.h"
#include "morph/network_regularizer.h"
#include "tools/config.h"
#include "trainers/morph_hook.h"
#include "trainers/resrep_hook.h"

namespace mt::tools {

// morph.method is not none; resrep_enabled: it is resrep (compactors, not a MorphNet regularizer).
bool morph_enabled(const Config& c);
bool resrep_enabled(const Config& c);
// morph.hardware: a built-in table's name, or a JSON file {"name", "peak_gflops", "memory_gbps"}
// as `morphtrain --calibrate` writes it. Errors name the key and the file.
morph::Hardware hardware_from_config(const Config& c);
// pipeline.round_widths table: the measured latency table of morph.hardware, to round widths by;
// null for round_widths multiple. Throws a ConfigError naming both keys where morph.hardware is
// not a table with per-layer latencies.
std::shared_ptr<const morph::LatencyTable> width_table(const Config& c);
// The resource morph.target.cost names, with its hardware table and batch for latency.
morph::CostOptions cost_options(const Config& c);
// method and target from `method` (overriding morph.method when not empty), the rest from the config.
morph::RegularizerOptions regularizer_options(const Config& c, const std::string& method = {});
// The hook for a training run of `model`; export_dir receives the structure files.
std::unique_ptr<MorphHook> make_morph_hook(const Config& c, const layers::Model& model, int64_t steps_per_epoch,
                                           RunLogger* logger, const std::string& export_dir);

// ResRep (morph.method resrep) for a model built with compactors.
std::unique_ptr<ResRepHook> make_resrep_hook(const Config& c, const layers::Model& model, int64_t steps_per_epoch,
                                             RunLogger* logger, const std::string& export_dir);

// Throws a ConfigError, before anything trains, when morph.target.fraction asks for less than the
// network can reach: the cost of the smallest structure the channel groups allow (one channel
// left wherever a layer would lose all), with the numbers.
void check_budget_reachable(const Config& c, const layers::Model& model);

// The config's structure learning for a training run of `model`: ResRep's hook or MorphNet's.
std::unique_ptr<StructureLearner> make_structure_learner(const Config& c, const layers::Model& model,
                                                         int64_t steps_per_epoch, RunLogger* logger,
                                                         const std::string& export_dir);

}  // namespace mt::tools
