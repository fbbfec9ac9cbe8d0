#include "trainers/resrep_hook.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/atomic_file.h"

namespace mt {

ResRepHook::ResRepHook(std::unique_ptr<morph::ResRep> resrep, std::string export_dir, RunLogger* logger)
    : resrep_(std::move(resrep)), export_dir_(std::move(export_dir)), logger_(logger),
      full_cost_(resrep_->full_cost()), cost_(resrep_->cost()) {}

std::string ResRepHook::summary() const {
  std::ostringstream out;
  out << "structure learning: ResRep, " << resrep_->num_prunable() << " prunable channel groups, target "
      << 100 * resrep_->options().target_fraction << "% of the dense " << resrep_->cost_model().cost_name();
  return out.str();
}

double ResRepHook::after_backward(Executor& exec, int64_t step) {
  step_ = step + 1;
  penalty_ = resrep_->add_penalty_gradient([&exec](ValueId p) { return &exec.param_grad(p); });
  return penalty_;
}

void ResRepHook::after_step(Executor& /*exec*/, double /*lr*/) {
  if (!resrep_->mask_due(step_)) return;
  const std::vector<int> chosen = resrep_->mask_more();
  if (chosen.empty()) return;
  cost_ = resrep_->cost();
  if (logger_) {
    std::string names;
    for (int g : chosen) names += (names.empty() ? "" : ", ") + resrep_->groups().group_name(g);
    char line[160];
    std::snprintf(line, sizeof line, "resrep step %lld: masked %zu more (%d of %d groups), %s %.1f%% of dense: ",
                  static_cast<long long>(step_), chosen.size(), resrep_->num_masked(), resrep_->num_prunable(),
                  resrep_->cost_model().cost_name().c_str(), full_cost_ > 0 ? 100 * cost_ / full_cost_ : 0.0);
    logger_->note(line + names);
  }
  export_structure();
}

void ResRepHook::metrics(std::vector<std::pair<std::string, double>>& out) {
  out.emplace_back("resrep_penalty", penalty_);
  out.emplace_back("cost", cost_);
  out.emplace_back("cost_fraction", full_cost_ > 0 ? cost_ / full_cost_ : 0.0);
  out.emplace_back("masked_groups", resrep_->num_masked());
}

void ResRepHook::end_epoch(int64_t /*epoch*/) { export_structure(); }

nlohmann::json ResRepHook::masks_json() const {
  nlohmann::json ids = nlohmann::json::array(), names = nlohmann::json::array();
  for (int g = 0; g < resrep_->groups().num_groups(); ++g)
    if (resrep_->masked()[g]) ids.push_back(g), names.push_back(resrep_->groups().group_name(g));
  return {{"step", step_},
          {"cost_name", resrep_->cost_model().cost_name()},
          {"cost", resrep_->cost()},
          {"full_cost", full_cost_},
          {"masked_groups", ids},
          {"masked_names", names},
          {"prunable_groups", resrep_->num_prunable()},
          {"num_groups", resrep_->groups().num_groups()}};
}

void ResRepHook::export_structure() const {
  if (export_dir_.empty()) return;
  const std::filesystem::path dir(export_dir_);
  std::filesystem::create_directories(dir);
  write_file_atomically((dir / "learned_structure.json").string(), resrep_->learned_structure().dump(2) + "\n");
  write_file_atomically((dir / "resrep_masks.json").string(), masks_json().dump(2) + "\n");
}

nlohmann::json ResRepHook::state() const {
  nlohmann::json ids = nlohmann::json::array();
  for (int g = 0; g < resrep_->groups().num_groups(); ++g)
    if (resrep_->masked()[g]) ids.push_back(g);
  return {{"masked_groups", ids}, {"num_groups", resrep_->groups().num_groups()}};
}

void ResRepHook::load_state(const nlohmann::json& state) {
  if (!state.is_object() || !state.contains("masked_groups")) return;
  const int n = resrep_->groups().num_groups();
  MT_CHECK(state.value("num_groups", n) == n, ShapeError, "[resrep] the checkpoint's masks are for ",
           state.value("num_groups", n), " channel groups, the model has ", n);
  std::vector<bool> masked(n, false);
  for (int g : state["masked_groups"].get<std::vector<int>>()) {
    MT_CHECK(g >= 0 && g < n, ShapeError, "[resrep] masked group ", g, " out of range");
    masked[g] = true;
  }
  resrep_->set_masked(masked);
  cost_ = resrep_->cost();
}

}  // namespace mt
