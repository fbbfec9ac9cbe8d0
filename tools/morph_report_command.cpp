// `morphtrain --morph-report [CHECKPOINT]`: where a network's FLOPs, size or latency go, for any
// regularizer method and cost target, without training: per op its cost, regularization term and
// alive channels, and the totals; printed as a table and written as JSON.
#include <cstdio>
#include <iostream>
#include <optional>

#include "core/atomic_file.h"
#include "morph/structure_export.h"
#include "tools/commands.h"
#include "tools/experiment.h"
#include "tools/training_phase.h"
#include "tools/morph_setup.h"
#include "tools/run_model.h"

namespace mt::tools {

namespace {

std::string table(const morph::NetworkRegularizer& reg) {
  const morph::Evaluation e = reg.evaluate();
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-28s %-12s %11s %11s %14s %7s %12s\n", "op", "kind", "alive in", "alive out",
                reg.cost_name().c_str(), "share", "term");
  out += line;
  for (const morph::OpReport& r : reg.op_reports()) {
    const std::string in = std::to_string(static_cast<int64_t>(r.alive_in)) + "/" + std::to_string(r.in);
    const std::string o = std::to_string(static_cast<int64_t>(r.alive_out)) + "/" + std::to_string(r.out);
    std::snprintf(line, sizeof line, "%-28s %-12s %11s %11s %14.6g %6.1f%% %12.5g\n", r.name.c_str(), r.kind.c_str(),
                  in.c_str(), o.c_str(), r.cost, e.cost > 0 ? 100 * r.cost / e.cost : 0.0, r.term);
    out += line;
  }
  std::snprintf(line, sizeof line, "total: %s %.6g of %.6g as built (%.1f%%), regularization term %.6g (%s)\n",
                reg.cost_name().c_str(), e.cost, reg.full_cost(), reg.full_cost() > 0 ? 100 * e.cost / reg.full_cost() : 0.0,
                e.term, reg.name().c_str());
  out += line;
  return out;
}

}  // namespace

int morph_report_command(const Config& config, const std::string& checkpoint, const std::string& json_path) {
  DataSplits data = load_data(config);
  std::string loaded = "fresh weights (seed " + std::to_string(config.settings().seed) + ")";
  std::optional<layers::Model> built;
  if (!checkpoint.empty()) {
    RunModel m = load_checkpointed_model(config, data.train, checkpoint, "auto", std::cout);
    built.emplace(std::move(m.model));
    loaded = m.source;
  } else {
    built.emplace(configured_model(config, data.train));
  }
  layers::Model& model = *built;
  // Any method works for a report; without one in the config, gamma (every zoo model has BNs).
  const std::string method = morph_enabled(config) && !resrep_enabled(config) ? config.settings().morph.method : "gamma";
  const auto reg = morph::make_regularizer(model.graph, model.logits, regularizer_options(config, method));
  std::cout << config.settings().model.name << ", " << loaded << "\n" << table(*reg);
  nlohmann::json j = morph::structure_report(*reg);
  j["model"] = config.settings().model.name;
  j["weights"] = loaded;
  write_file_atomically(json_path, j.dump(2) + "\n");
  std::cout << "wrote " << json_path << std::endl;
  return 0;
}

}  // namespace mt::tools
