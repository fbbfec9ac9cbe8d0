// `morphtrain --evaluate PATH` and `morphtrain --summary`: look at a model without training it.
#include <iomanip>
#include <iostream>

#include "kernels/backends.h"
#include "layers/summary.h"
#include "tools/commands.h"
#include "tools/experiment.h"
#include "tools/training_phase.h"
#include "tools/run_model.h"

namespace mt::tools {

int evaluate_command(const Config& config, const std::string& checkpoint) {
  DataSplits data = load_data(config);
  MT_CHECK(data.test.has_value(), ConfigError, "data set '", data.train.name, "' has no test split to evaluate on");
  RunModel m = load_checkpointed_model(config, data.train, checkpoint, "best", std::cout);
  const EvalResult r = evaluate_model(config, m.model, data);
  std::cout << std::fixed << std::setprecision(2) << "checkpoint " << m.source << " (step " << m.step
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
