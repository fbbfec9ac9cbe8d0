#include "tools/morph_setup.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/json_read.h"
#include "morph/latency_table.h"
#include "morph/channel_selection.h"
#include "morph/width_expansion.h"
#include "tools/slim_method.h"
#include "tools/training_phase.h"

namespace mt::tools {

bool morph_enabled(const Config& c) { return c.settings().morph.method != "none"; }
bool resrep_enabled(const Config& c) { return c.settings().morph.method == "resrep"; }

morph::Hardware hardware_from_config(const Config& c) {
  const std::string& name = c.settings().morph.hardware;
  if (!std::filesystem::exists(name) || std::filesystem::is_directory(name)) return morph::hardware_by_name(name);
  const std::optional<std::string> text = read_text_file(name);
  MT_CHECK(text, ConfigError, "cannot read morph.hardware file '", name, "'");
  std::string why;
  const std::optional<nlohmann::json> parsed = try_parse_json(*text, why);
  MT_CHECK(parsed, ConfigError, "morph.hardware file '", name, "' is not valid JSON: ", why);
  const nlohmann::json& j = *parsed;
  MT_CHECK(j.is_object() && j.contains("peak_gflops") && j["peak_gflops"].is_number() && j.contains("memory_gbps") &&
               j["memory_gbps"].is_number(),
           ConfigError, "morph.hardware file '", name, "' needs numbers \"peak_gflops\" and \"memory_gbps\"");
  morph::Hardware hw =
      morph::custom_hardware(j.value("name", name), j["peak_gflops"].get<double>(), j["memory_gbps"].get<double>());
  if (j.contains("layers"))  // measured per-layer latencies (morphtrain --calibrate FILE --config CFG)
    hw.measured = std::make_shared<const morph::LatencyTable>(morph::LatencyTable::from_json(j, name));
  return hw;
}

std::shared_ptr<const morph::LatencyTable> width_table(const Config& c) {
  if (c.settings().pipeline.round_widths != "table") return nullptr;
  const morph::Hardware hw = hardware_from_config(c);
  MT_CHECK(hw.measured && hw.measured->size() > 0, ConfigError, c.source(),
           ": pipeline.round_widths: table needs morph.hardware to name a latency table with per-layer latencies "
           "(morphtrain --calibrate FILE --config CFG), but it is '", c.settings().morph.hardware, "'");
  return hw.measured;
}

morph::CostOptions cost_options(const Config& c) {
  morph::CostOptions o;
  o.target = morph::parse_cost_target(c.settings().morph.target.cost);
  if (o.target == morph::CostTarget::latency) {
    o.hardware = hardware_from_config(c);
    o.batch_size = c.settings().morph.latency_batch;
    // A measured table holds latencies at its own batch: the roofline of the other ops follows it.
    if (o.hardware.measured && o.hardware.measured->batch > 0) o.batch_size = o.hardware.measured->batch;
  }
  return o;
}

morph::RegularizerOptions regularizer_options(const Config& c, const std::string& method) {
  morph::RegularizerOptions o;
  o.method = morph::parse_method(method.empty() ? c.settings().morph.method : method);
  const morph::CostOptions cost = cost_options(c);
  o.target = cost.target;
  o.hardware = cost.hardware;
  o.batch_size = cost.batch_size;
  o.threshold = c.settings().morph.threshold;
  o.regularize_on_mask = c.settings().morph.logistic_sigmoid.regularize_on_mask;
  o.backend = &configured_backend(c);  // the trainer's: the row ops run where the params live
  return o;
}

std::unique_ptr<MorphHook> make_morph_hook(const Config& c, const layers::Model& model, int64_t steps_per_epoch,
                                           RunLogger* logger, const std::string& export_dir) {
  auto regularizer = morph::make_regularizer(model.graph, model.logits, regularizer_options(c));
  MorphHookOptions o;
  o.strength = c.settings().morph.strength;
  o.export_dir = export_dir;
  o.export_every_steps = c.settings().morph.export_every_steps;
  o.proximal = c.settings().morph.proximal && c.settings().morph.method != "logistic_sigmoid";
  const double fraction = c.settings().morph.target.fraction;
  if (fraction > 0) {
    morph::BudgetOptions b;
    b.target_fraction = fraction;
    // Unless given, start where the term's pull on a typical channel is small next to the data
    // loss (strength x term = 1); the controller raises it from there.
    const double term = regularizer->regularization_term();
    b.initial_strength = o.strength > 0 ? o.strength : term > 0 ? 1.0 / term : 1e-9;
    o.budget = b;
    // The cost answers a strength change only as channels die, hundreds of steps later: about
    // 50 controller updates per epoch let the strength move at most ~12x in an epoch.
    o.budget_every = std::max<int64_t>(1, steps_per_epoch / 50);
  }
  return std::make_unique<MorphHook>(std::move(regularizer), o, logger);
}

std::unique_ptr<ResRepHook> make_resrep_hook(const Config& c, const layers::Model& model, int64_t steps_per_epoch,
                                             RunLogger* logger, const std::string& export_dir) {
  morph::ResRepOptions o;
  o.lasso_strength = c.settings().morph.resrep.lasso_strength;
  o.masked_lasso_strength = c.settings().morph.resrep.masked_lasso_strength;
  const int64_t warmup = c.settings().morph.resrep.warmup_steps;
  o.warmup_steps = warmup >= 0 ? warmup : steps_per_epoch;
  o.mask_interval = c.settings().morph.resrep.mask_interval;
  o.mask_step = c.settings().morph.resrep.mask_step;
  o.ranking = morph::parse_resrep_ranking(c.settings().morph.resrep.ranking);
  o.target_fraction = c.settings().morph.target.fraction;
  MT_CHECK(o.target_fraction > 0, ConfigError, "morph.method resrep needs morph.target.fraction (the cost to prune to)");
  o.cost = cost_options(c);
  o.backend = &configured_backend(c);  // the trainer's: the row ops run where the params live
  return std::make_unique<ResRepHook>(std::make_unique<morph::ResRep>(model.graph, model.logits, o), export_dir, logger);
}

void check_budget_reachable(const Config& c, const layers::Model& model) {
  const double fraction = c.settings().morph.target.fraction;
  if (!morph_enabled(c) || fraction <= 0) return;
  // Costs only: no regularizer, no parameter read, no device.
  const morph::ChannelGroups groups(model.graph, model.logits);
  const morph::CostModel costs(groups, cost_options(c));
  // The smallest structure the grouping allows: every value keeps one channel group, as the
  // reshaper revives an emptied one.
  morph::ChannelSelection smallest = morph::selection_from_alive(std::vector<bool>(costs.num_groups(), false));
  morph::revive_empty_values(groups, smallest);
  const double full = costs.full_cost(), floor = morph::structure_cost(costs, smallest);
  char numbers[200];
  std::snprintf(numbers, sizeof numbers, "%.4g of %.4g, %.1f%%", floor, full, full > 0 ? 100 * floor / full : 0.0);
  MT_CHECK(floor <= fraction * full, ConfigError, c.source(), ": morph.target.fraction ", fraction,
           " cannot be reached: with one channel left in every layer the ", costs.cost_name(), " are still ",
           numbers, " of the dense model's (the smallest structure the channel groups allow); hint: aim at ",
           std::ceil(1000 * floor / full) / 1000, " or more");
}

std::unique_ptr<StructureLearner> make_structure_learner(const Config& c, const layers::Model& model,
                                                         int64_t steps_per_epoch, RunLogger* logger,
                                                         const std::string& export_dir) {
  if (resrep_enabled(c)) return make_resrep_hook(c, model, steps_per_epoch, logger, export_dir);
  return make_morph_hook(c, model, steps_per_epoch, logger, export_dir);
}

std::unique_ptr<SlimMethod> make_slim_method(const Config& c) {
  return resrep_enabled(c) ? slim_by_merge() : slim_by_reshape();
}

}  // namespace mt::tools
