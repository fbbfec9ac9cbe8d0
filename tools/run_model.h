#pragma once
// The model a run left behind, for the commands that only read a run (--evaluate, --morph-report,
// --export): a checkpoint's weights in the architecture that checkpoint stores, or a pipeline
// run's slim model. Nothing in the run is changed (a reader; the run may still be training).
#include <filesystem>
#include <optional>
#include <string>

#include "layers/zoo/model.h"
#include "tools/config.h"
#include "trainers/dataset.h"

namespace mt::tools {

struct RunModel {
  layers::Model model;
  std::string source;       // the checkpoint directory or file the weights came from
  int64_t step = 0;         // the checkpoint's step (0 for a pipeline's slim model)
  std::string structure;    // the structure file's text when the model is pruned, else empty
};

// `path`: a run directory (its checkpoint `prefer`: "best" or "auto", the newest), or a checkpoint
// directory. Warnings of checkpoints skipped on the way go to `log`.
RunModel load_checkpointed_model(const Config& config, const Dataset& train, const std::string& path,
                                 const std::string& prefer, std::ostream& log);

// A pipeline run directory's slim model (structure.json and slim.safetensors, which the pipeline
// writes at its end); nullopt when `path` is not a finished pipeline run.
std::optional<RunModel> load_pipeline_slim_model(const Config& config, const Dataset& train,
                                                 const std::filesystem::path& path);

// The model's state_dict under PyTorch's names as safetensors, with "format": "pt", the model's
// name and, when not empty, its structure (a structure file's text) in the metadata.
void write_model_safetensors(const std::string& path, const layers::Model& model, const std::string& structure);

// The config.yaml of the run `path` belongs to (a run, pipeline phase or checkpoint directory,
// looked up through at most three parent folders); nullopt when there is none.
std::optional<std::filesystem::path> run_config_of(const std::filesystem::path& path);

}  // namespace mt::tools
