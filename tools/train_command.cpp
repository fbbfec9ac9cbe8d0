// `morphtrain --config FILE [--resume auto|PATH]`: a training run and its run directory.
#include <fstream>
#include <iostream>
#include <optional>

#include "tools/commands.h"
#include "tools/experiment.h"
#include "tools/morph_setup.h"
#include "tools/training_phase.h"
#include "tools/run_dir.h"
#include "tools/run_lock.h"

namespace mt::tools {

namespace {

// The device, optimizer, schedule and normalisation checks, before a run directory exists.
void validate_training(const Config& config, const layers::Model& model, const DataSplits& data, int processes) {
  configured_backend(config);  // a GPU asked for but missing stops the run here
  const TrainOptions options = train_options(config);
  MT_CHECK(data.train.size() >= options.batch_size * processes, ConfigError, "train.batch_size ", options.batch_size,
           (processes > 1 ? " x " + std::to_string(processes) + " processes" : ""), " exceeds the ",
           data.train.size(), " training samples");
  lr_schedule(config, data.train.size() / (options.batch_size * processes));
  optimizer_factory(config, model.graph);
  normalization(config, data.train);
  check_budget_reachable(config, model);
}

void write_resolved_config(const Config& config, const std::filesystem::path& run_dir) {
  std::ofstream resolved(run_dir / "config.yaml");
  resolved << config.dump();
  MT_CHECK(resolved.good(), IoError, "cannot write ", (run_dir / "config.yaml").string());
}

// Where the run lives, and which checkpoint (if any) it continues from.
struct RunPlace {
  std::filesystem::path run_dir;
  std::filesystem::path resume_from;  // a checkpoints/ folder; empty: a fresh run
  std::string which;
};

RunPlace place_run(const Config& config, const std::string& resume) {
  const std::string root = config.settings().output.root, name = config.settings().name;
  if (resume == "auto") {
    if (const auto run = latest_resumable_run(root, name))
      return {*run, *run / "checkpoints", "auto"};
    std::cout << "morphtrain: no checkpoint under " << root << "/" << name << "/ to resume; starting a new run"
              << std::endl;
  } else if (!resume.empty()) {
    const CheckpointLocation at = locate_checkpoint(resume, "auto");
    if (!at.run_dir.empty()) return {at.run_dir, at.checkpoints, at.which};
    RunPlace p{create_run_dir(root, name), at.checkpoints, at.which};
    write_resolved_config(config, p.run_dir);
    return p;
  }
  RunPlace p{create_run_dir(root, name), {}, {}};
  write_resolved_config(config, p.run_dir);
  return p;
}

// Rank 0 places the run (creating its directory); the others learn where it is.
RunPlace shared_place(const Config& config, const std::string& resume, Communicator& comm) {
  RunPlace place;
  if (comm.is_root()) place = place_run(config, resume);
  if (comm.size() == 1) return place;
  const nlohmann::json j = nlohmann::json::parse(broadcast_string(
      comm, nlohmann::json{place.run_dir.string(), place.resume_from.string(), place.which}.dump()));
  return {j[0].get<std::string>(), j[1].get<std::string>(), j[2].get<std::string>()};
}

}  // namespace

int train_command(const Config& config, const std::string& resume, Communicator& comm) {
  // Everything that can be wrong with the config or the data fails here, before a run directory.
  DataSplits data = load_data(config);
  layers::Model model = configured_model(config, data.train);
  validate_training(config, model, data, comm.size());

  const RunPlace place = shared_place(config, resume, comm);
  // Rank 0 writes the run directory; it holds the run's lock until the command ends.
  std::optional<RunDirLock> lock;
  if (comm.is_root()) lock.emplace(place.run_dir);
  std::cout << "morphtrain: " << config.settings().model.name << " (" << model.graph.num_parameters()
            << " parameters) on " << data.train.name << " (" << data.train.size() << " train, "
            << (data.test ? data.test->size() : 0) << " test), seed " << config.settings().seed
            << "\nrun directory " << place.run_dir.string() << std::endl;
  PhaseSetup setup;
  setup.dir = place.run_dir;
  setup.resume_from = place.resume_from;
  setup.which = place.which;
  setup.morph = morph_enabled(config);
  setup.comm = &comm;
  const PhaseResult r = run_training_phase(config, model, data, setup);
  if (r.epochs.empty())
    std::cout << "nothing to do: the run had already finished (" << r.steps << " steps)" << std::endl;
  else if (data.test)
    std::cout << "final test accuracy " << 100 * r.test_accuracy << "% after " << r.steps << " steps" << std::endl;
  return 0;
}

}  // namespace mt::tools
