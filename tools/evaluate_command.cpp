// `morphtrain --evaluate PATH` and `morphtrain --summary`: look at a model without training it.
#include <cstdio>
#include <iomanip>
#include <iostream>

#include "core/executor.h"
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

namespace {
std::string megabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  return buf;
}

// What a step will hold, from the executor's plan (no step runs): the batch can be chosen before
// launching.
void print_memory(const Config& config, layers::Model& model) {
  const Executor ex(model.graph, backend_for(Device::cpu()));
  const int64_t batch = config.settings().train.batch_size, eval_batch = config.settings().eval.batch_size;
  const Executor::MemoryReport train = ex.plan_memory(batch, true), eval = ex.plan_memory(eval_batch, false);
  double params = 0;
  for (ValueId p : model.graph.params()) params += static_cast<double>(model.graph.value(p).data.nbytes());
  const double optimizer = config.settings().optim.name == "adamw" ? 2 * params : params;  // moments / momentum
  std::cout << "memory, planned: training step at batch " << batch << ": " << megabytes(train.planned_bytes)
            << " of activations and their gradients (" << megabytes(train.kept_bytes)
            << " of them kept from forward for backward; " << megabytes(train.unpacked_bytes)
            << " without reuse), + parameters " << megabytes(params) << ", their gradients " << megabytes(params)
            << ", " << config.settings().optim.name << " state " << megabytes(optimizer) << " = "
            << megabytes(train.planned_bytes + 2 * params + optimizer) << "\n"
            << "memory, planned: evaluation at batch " << eval_batch << ": " << megabytes(eval.planned_bytes)
            << " of activations + parameters " << megabytes(params) << "\n";
}
}  // namespace

int summary_command(const Config& config) {
  DataSplits data = load_data(config);
  layers::Model model = configured_model(config, data.train);
  std::cout << layers::format_summary(layers::summarize(model.graph));
  print_memory(config, model);
  return 0;
}

}  // namespace mt::tools
