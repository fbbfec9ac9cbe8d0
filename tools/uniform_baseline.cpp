#include "tools/uniform_baseline.h"

#include <cstdio>
#include <iostream>

#include "morph/channel_groups.h"
#include "morph/cost_model.h"
#include "tools/training_phase.h"

namespace mt::tools {

namespace {

double flops_of(const layers::Model& m) {
  const morph::ChannelGroups groups(m.graph, m.logits);
  return morph::CostModel(groups, morph::CostOptions{}).full_cost();
}

}  // namespace

layers::Model uniform_model(const Config& config, const Dataset& train, double multiplier) {
  layers::ModelOptions o = model_options(config, train);
  o.width_multiplier = multiplier;
  o.gating = false;  // the baseline is the plain network: nothing to learn a structure with
  o.compactors = false;
  return layers::build_model(config.settings().model.name, o);
}

double uniform_multiplier(const Config& config, const Dataset& train, double flops) {
  // FLOPs grow with the multiplier in steps (widths are whole channels): bisect for the largest
  // multiplier still within the budget.
  double lo = 1e-3, hi = 1.0;
  if (flops_of(uniform_model(config, train, hi)) <= flops) return hi;
  for (int i = 0; i < 40 && hi - lo > 1e-4; ++i) {
    const double mid = 0.5 * (lo + hi);
    (flops_of(uniform_model(config, train, mid)) <= flops ? lo : hi) = mid;
  }
  return std::floor(lo * 1e3) / 1e3 > 0 ? std::floor(lo * 1e3) / 1e3 : lo;
}

std::optional<layers::Model> train_uniform_baseline(const Config& config, const layers::Model& slim,
                                                    const DataSplits& data, const std::filesystem::path& run,
                                                    PipelineState& state, Communicator& comm) {
  if (config.settings().pipeline.baseline != "uniform") return std::nullopt;
  const double target = flops_of(slim);
  const double multiplier = uniform_multiplier(config, data.train, target);
  layers::Model baseline = uniform_model(config, data.train, multiplier);
  const std::filesystem::path dir = run / "baseline";
  if (state.done("baseline")) {
    std::cout << "== baseline: done" << std::endl;
    load_phase_weights(dir, baseline.graph, config, comm);
    return baseline;
  }
  char title[160];
  std::snprintf(title, sizeof title, "baseline: the dense network at width x%.3f (%.1f%% of the slim model's FLOPs)",
                multiplier, 100 * flops_of(baseline) / target);
  PhaseSetup setup{title, dir, checkpoints_of(dir), "auto", false, config.settings().pipeline.retrain_epochs};
  setup.comm = &comm;
  const PhaseResult r = run_training_phase(config, baseline, data, setup);
  state.finish("baseline", {{"seconds", r.seconds + state.figure("baseline", "seconds", 0.0)},
                            {"test_accuracy", r.test_accuracy},
                            {"steps", r.steps},
                            {"width_multiplier", multiplier},
                            {"flops", flops_of(baseline)},
                            {"params", baseline.graph.num_parameters()}});
  return baseline;
}

}  // namespace mt::tools
