#pragma once
// One training run of a model in a directory of its own: the trainer with the config's data,
// optimizer, schedule, progress, metrics files and checkpoints, optionally the config's
// structure learning, and a resume from that directory's checkpoints. A plain run is one such
// phase; the pipeline runs several (learn, retrain).
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "tools/config.h"
#include "tools/experiment.h"
#include "trainers/structure_learner.h"

namespace mt::tools {

struct PhaseSetup {
  std::string title;                       // printed at the start ("learn", "retrain", ...)
  std::filesystem::path dir;               // logs and checkpoints/ go here
  std::filesystem::path resume_from;       // a checkpoints/ folder to resume from; empty: fresh
  std::string which = "auto";              // which checkpoint there (CheckpointManager::load)
  bool morph = false;                      // attach the config's morph hook
  int64_t epochs = 0;                      // > 0: overrides train.epochs
  std::string schedule = {};               // not empty: overrides schedule.name
  // Data parallel over these processes (null: this process alone). Every rank runs the phase;
  // only rank 0 prints, writes logs, structure files and checkpoints, and resumes (fit() hands
  // its state to the others).
  Communicator* comm = nullptr;
};

struct PhaseResult {
  std::vector<EpochResult> epochs;         // of this process (fewer after a resume)
  int64_t steps = 0;
  double seconds = 0;                      // wall time of this process's part
  double test_accuracy = -1;               // after the last epoch; -1 without a test set
  std::unique_ptr<StructureLearner> learner;  // when setup.morph: what it learned
};

PhaseResult run_training_phase(const Config& config, layers::Model& model, const DataSplits& data,
                               const PhaseSetup& setup);

// Loss and accuracy of `model` on the test set in eval mode (no batch-norm recalibration: a
// merged ResRep model's batch norms are identities on purpose); samples 0 without a test set.
// The backend of the config's `device` (cpu, cuda, cuda:N). A device this build or machine lacks
// throws an error that says so; a malformed value a ConfigError naming the key.
Device configured_device(const Config& config);
KernelBackend& configured_backend(const Config& config);

EvalResult evaluate_model(const Config& config, layers::Model& model, const DataSplits& data);

// The model the config describes: the zoo model, or with model.structure the dense model
// reshaped to that structure file with fresh weights (a pruned model retrained from the file).
layers::Model configured_architecture(const Config& config, const Dataset& train);
// configured_architecture with model.weights loaded into it (tools/pretrained.h), when given.
layers::Model configured_model(const Config& config, const Dataset& train);

// A pruned run's checkpoints carry the structure they were trained with under this name, so the
// architecture comes from the checkpoint, not from a path in config.yaml that may have moved.
inline constexpr const char* kStructureAttachment = "structure.json";
// The model a checkpoint directory holds weights for: the structure stored in it when it has
// one (with fresh weights, as configured_model), else the config's model. nullopt: the config's.
layers::Model checkpoint_model(const Config& config, const Dataset& train, const std::optional<std::string>& checkpoint);
// What a run's checkpoints carry besides the tensors (CheckpointOptions::attachments): the
// model.structure file's text, read now, when the config has one.
std::vector<std::pair<std::string, std::string>> checkpoint_attachments(const Config& config);

}  // namespace mt::tools
