#include "tools/pipeline.h"

#include <filesystem>
#include <iostream>
#include <optional>

#include "core/atomic_file.h"
#include "tools/experiment.h"
#include "tools/morph_setup.h"
#include "tools/pipeline_report.h"
#include "tools/pipeline_state.h"
#include "tools/run_dir.h"
#include "tools/run_lock.h"
#include "tools/slim_method.h"
#include "tools/training_phase.h"
#include "tools/uniform_baseline.h"

namespace mt::tools {

namespace fs = std::filesystem;

namespace {

fs::path place_pipeline(const Config& config, const std::string& resume) {
  configured_backend(config);  // a GPU asked for but missing stops the run before any folder exists
  const std::string root = config.settings().output.root, name = config.settings().name;
  if (resume == "auto") {
    if (const auto run = latest_resumable_run(root, name)) return *run;
    std::cout << "morphtrain: nothing under " << root << "/" << name << "/ to resume; starting a new run" << std::endl;
  } else if (!resume.empty()) {
    MT_CHECK(fs::exists(fs::path(resume) / "pipeline.json") || fs::exists(fs::path(resume) / "config.yaml"),
             ConfigError, "'", resume, "' is not a pipeline run directory (no pipeline.json or config.yaml)");
    return resume;
  }
  const fs::path dir = create_run_dir(root, name);
  write_file_atomically((dir / "config.yaml").string(), config.dump());
  return dir;
}

// 1. Learn the structure: train the dense model with the method's hook; when done before, load
// the weights it left.
void learn(const Config& config, layers::Model& dense, const DataSplits& data, const fs::path& run,
           PipelineState& state, Communicator& comm) {
  const fs::path dir = run / "learn";
  if (state.done("learn")) {
    std::cout << "== learn: done (" << run.string() << "/pipeline.json)" << std::endl;
    return load_phase_weights(dir, dense.graph, config, comm);
  }
  const std::string& schedule = config.settings().pipeline.learn_schedule;
  PhaseSetup setup{"learn: " + config.settings().model.name + " with " + config.settings().morph.method, dir,
                   checkpoints_of(dir), "auto", true, 0, schedule == "same" ? "" : schedule};
  setup.comm = &comm;
  const PhaseResult r = run_training_phase(config, dense, data, setup);
  r.learner->finish();
  state.finish("learn", {{"seconds", r.seconds + state.figure("learn", "seconds", 0.0)},
                         {"test_accuracy", r.test_accuracy},
                         {"steps", r.steps},
                         {"cost_name", r.learner->cost_name()},
                         {"full_cost", r.learner->full_cost()},
                         {"learned_cost", r.learner->learned_cost()}});
}

// 3. Retrain the slim model (unless the method's slim model is final).
void retrain(const Config& config, SlimModel& slim, const DataSplits& data, const fs::path& run,
             PipelineState& state, Communicator& comm) {
  const fs::path dir = run / "retrain";
  if (!slim.retrain) {
    if (!state.done("retrain")) state.finish("retrain", slim.retrain_figures);
    return;
  }
  if (state.done("retrain")) {
    std::cout << "== retrain: done" << std::endl;
    return load_phase_weights(dir, slim.model.graph, config, comm);
  }
  PhaseSetup setup{"retrain: the slim model (" + config.settings().pipeline.retrain + ")", dir, checkpoints_of(dir),
                   "auto", false, config.settings().pipeline.retrain_epochs};
  setup.comm = &comm;
  const PhaseResult r = run_training_phase(config, slim.model, data, setup);
  nlohmann::json figures = slim.retrain_figures;
  figures["seconds"] = r.seconds + state.figure("retrain", "seconds", 0.0);
  figures["test_accuracy"] = r.test_accuracy;
  figures["steps"] = r.steps;
  state.finish("retrain", figures);
}

}  // namespace

bool pipeline_enabled(const Config& config) { return config.settings().pipeline.retrain != "none"; }

int pipeline_command(const Config& config, const std::string& resume, Communicator& comm) {
  MT_CHECK(morph_enabled(config), ConfigError, "pipeline.retrain needs structure learning: set morph.method");
  MT_CHECK(config.settings().model.structure.empty(), ConfigError,
           "pipeline.retrain learns a structure; model.structure names one already (train it without the pipeline)");
  DataSplits data = load_data(config);
  layers::Model dense = configured_model(config, data.train);  // model.weights: learning starts from them
  check_budget_reachable(config, dense);  // before a run directory exists
  width_table(config);                    // likewise: a rounding table that is not one
  const bool root = comm.is_root();
  const fs::path run = broadcast_string(comm, root ? place_pipeline(config, resume).string() : std::string());
  // Rank 0 writes the run directory; it holds the run's lock until the command ends.
  std::optional<RunDirLock> lock;
  if (root) lock.emplace(run);
  PipelineState state(run / "pipeline.json", comm);
  std::cout << "morphtrain pipeline: learn -> reshape -> retrain (" << config.settings().pipeline.retrain << ")"
            << (config.settings().pipeline.baseline == "uniform" ? " -> uniform baseline" : "")
            << " -> report\nrun directory " << run.string() << std::endl;

  learn(config, dense, data, run, state, comm);
  SlimModel slim = make_slim_method(config)->slim(config, dense, data, run, state, comm);  // 2. reshape or merge
  retrain(config, slim, data, run, state, comm);
  // 4. The uniform baseline at the same FLOPs, when asked for.
  const std::optional<layers::Model> baseline = train_uniform_baseline(config, slim.model, data, run, state, comm);

  // 5. Report and exports (rank 0's).
  if (!root) return 0;
  write_slim_safetensors((run / "slim.safetensors").string(), slim.model, run / "structure.json");
  const layers::Model& reference = slim.reference ? *slim.reference : dense;
  std::cout << pipeline_report(config, {reference, slim.model, baseline ? &*baseline : nullptr}, data, run,
                               state.json())
                   .summary;
  return 0;
}

}  // namespace mt::tools
