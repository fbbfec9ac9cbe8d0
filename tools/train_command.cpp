// `morphtrain --config FILE [--resume auto|PATH]`: a training run and its run directory.
#include <fstream>
#include <iostream>
#include <optional>

#include "kernels/backends.h"
#include "tools/commands.h"
#include "tools/experiment.h"
#include "tools/morph_setup.h"
#include "tools/run_dir.h"

namespace mt::tools {

namespace {

ProgressOptions progress_options(const Config& c) {
  ProgressOptions p;
  const std::string& mode = c.string("train.progress");
  p.mode = mode == "live" ? ProgressMode::live : mode == "plain" ? ProgressMode::plain : ProgressMode::automatic;
  p.plain_every = c.integer("train.log_every");
  return p;
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
  const std::string root = config.string("output.root"), name = config.string("name");
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

}  // namespace

int train_command(const Config& config, const std::string& resume) {
  // Everything that can be wrong with the config or the data fails here, before a run directory.
  DataSplits data = load_data(config);
  layers::Model model = layers::build_model(config.string("model.name"), model_options(config, data.train));
  const TrainOptions options = train_options(config);
  const LrSchedule schedule = lr_schedule(config, data.train.size() / options.batch_size);
  const OptimizerFactory make_optimizer = optimizer_factory(config, model.graph);
  const Normalization norm = normalization(config, data.train);
  KernelBackend& backend = backend_for(Device::cpu());

  const RunPlace place = place_run(config, resume);
  std::cout << "morphtrain: " << config.string("model.name") << " (" << model.graph.num_parameters()
            << " parameters) on " << data.train.name << " (" << data.train.size() << " train, "
            << (data.test ? data.test->size() : 0) << " test), backend " << backend.name() << ", seed "
            << config.integer("seed") << "\nrun directory " << place.run_dir.string() << std::endl;

  RunLogger logger(std::cout, place.run_dir.string(), progress_options(config));
  Trainer trainer(model, backend, make_optimizer, schedule, options, norm);
  trainer.set_logger(&logger);
  CheckpointOptions co{(place.run_dir / "checkpoints").string(), static_cast<int>(config.integer("checkpoint.keep_last")),
                       config.string("model.name")};
  std::optional<CheckpointManager> checkpoints;
  if (config.boolean("checkpoint.enabled")) {
    checkpoints.emplace(co, std::cout);
    trainer.set_checkpoints(&*checkpoints);
  }
  std::unique_ptr<MorphHook> morph;
  if (morph_enabled(config)) {
    morph = make_morph_hook(config, model, data.train.size() / options.batch_size, &logger, place.run_dir.string());
    trainer.add_hook(morph.get());
    std::cout << "structure learning: " << morph->regularizer().name() << ", ";
    if (config.number("morph.target.fraction") > 0)
      std::cout << "budget " << 100 * config.number("morph.target.fraction") << "% of the dense cost";
    else
      std::cout << "strength " << morph->strength();
    std::cout << " (dense " << morph->regularizer().cost_name() << " " << morph->regularizer().full_cost() << ")"
              << std::endl;
  }
  if (!place.resume_from.empty()) {
    CheckpointManager source({place.resume_from.string(), co.keep_last, co.model_name}, std::cout);
    const CheckpointLoad loaded = trainer.resume(source, place.which);
    logger.record({{"event", "resume"}, {"checkpoint", loaded.path}, {"step", loaded.step}});
  }

  const auto epochs = trainer.fit(data.train, data.test ? &*data.test : nullptr);
  if (trainer.skipped_steps())
    std::cout << "warning: skipped " << trainer.skipped_steps() << " steps with a non-finite loss or gradient"
              << std::endl;
  if (epochs.empty())
    std::cout << "nothing to do: the run had already finished (" << trainer.steps() << " steps)" << std::endl;
  else if (data.test)
    std::cout << "final test accuracy " << 100 * epochs.back().test.accuracy << "% after " << trainer.steps()
              << " steps" << std::endl;
  return 0;
}

}  // namespace mt::tools
