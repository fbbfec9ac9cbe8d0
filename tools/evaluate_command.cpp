// `morphtrain --evaluate PATH` and `morphtrain --summary`: look at a model without training it.
#include <iomanip>
#include <iostream>

#include "kernels/backends.h"
#include "layers/summary.h"
#include "tools/commands.h"
#include "tools/experiment.h"
#include "tools/training_phase.h"
#include "tools/run_dir.h"

namespace mt::tools {

int evaluate_command(const Config& config, const std::string& checkpoint) {
  DataSplits data = load_data(config);
  MT_CHECK(data.test.has_value(), ConfigError, "data set '", data.train.name, "' has no test split to evaluate on");
  const CheckpointLocation at = locate_checkpoint(checkpoint, "best");
  // A reader: the run may still be training, and its `*.tmp` may be a save in progress.
  CheckpointManager manager({at.checkpoints.string(), 1, config.settings().model.name, CheckpointAccess::read},
                            std::cout);
  std::string which = at.which;
  if (which == "best") {
    const auto best = manager.best();
    which = best ? *best : "auto";  // no best pointer: the newest complete checkpoint
  }
  // The architecture the checkpoint stores (a pruned run's structure), not the config's path.
  layers::Model model = checkpoint_model(config, data.train, manager.resolve(which));
  TrainerState state;
  const CheckpointLoad loaded = manager.load(which, model.graph, nullptr, state);
  for (const std::string& w : loaded.warnings) std::cout << "warning: " << w << "\n";

  const EvalResult r = evaluate_model(config, model, data);
  std::cout << std::fixed << std::setprecision(2) << "checkpoint " << loaded.path << " (step " << loaded.step
            << "): test accuracy " << 100 * r.accuracy << "% (" << r.samples << " samples), loss "
            << std::setprecision(4) << r.loss << std::endl;
  return 0;
}

int summary_command(const Config& config) {
  DataSplits data = load_data(config);
  layers::Model model = configured_model(config, data.train);
  std::cout << layers::format_summary(layers::summarize(model.graph));
  return 0;
}

}  // namespace mt::tools
