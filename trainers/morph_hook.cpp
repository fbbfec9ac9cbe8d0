#include "trainers/morph_hook.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "morph/structure_export.h"

namespace mt {

MorphHook::MorphHook(std::unique_ptr<morph::NetworkRegularizer> regularizer, MorphHookOptions options,
                     RunLogger* logger)
    : regularizer_(std::move(regularizer)), options_(std::move(options)), logger_(logger),
      full_cost_(regularizer_->full_cost()) {
  if (options_.budget) controller_.emplace(full_cost_, *options_.budget);
  if (options_.budget_every < 1) options_.budget_every = 1;
}

double MorphHook::after_backward(Executor& exec, int64_t step) {
  step_ = step + 1;
  strength_used_ = strength();
  // The term's gradient goes straight into the parameters' gradients (host tensors on the CPU
  // backend); with strength 0 only the term and the cost are measured.
  // One evaluation (on a GPU, one wait for the per-channel sums) serves the term, the cost and the
  // gradient. With a proximal step the term acts in after_step instead: here it is only measured.
  const morph::GateSeeds seeds = [&exec](int node) { return exec.node_seed(node); };
  const morph::Evaluation e = regularizer_->evaluate(&seeds);
  term_ = e.term;
  cost_ = e.cost;
  if (!options_.proximal) {
    const morph::GradientSink sink = [&exec](ValueId p) { return &exec.param_grad(p); };
    regularizer_->add_term_gradient(e, strength_used_, sink);
  }
  if (controller_ && step_ % options_.budget_every == 0) controller_->update(cost_);
  if (options_.export_every_steps && step_ % options_.export_every_steps == 0) export_structure(step_);
  return strength_used_ * term_;
}

void MorphHook::after_step(Executor& /*exec*/, double lr) {
  if (options_.proximal) regularizer_->proximal_step(lr * strength_used_);
}

void MorphHook::metrics(std::vector<std::pair<std::string, double>>& out) {
  out.emplace_back("reg_term", term_);
  out.emplace_back("reg_loss", strength_used_ * term_);
  out.emplace_back("strength", strength_used_);
  out.emplace_back("cost", cost_);
  out.emplace_back("cost_fraction", full_cost_ > 0 ? cost_ / full_cost_ : 0.0);
}

void MorphHook::end_epoch(int64_t /*epoch*/) { export_structure(step_); }

std::string MorphHook::summary() const {
  std::ostringstream out;
  out << "structure learning: " << regularizer_->name() << ", ";
  if (options_.budget) out << "budget " << 100 * options_.budget->target_fraction << "% of the dense cost";
  else out << "strength " << strength();
  out << " (dense " << regularizer_->cost_name() << " " << regularizer_->full_cost() << ")";
  return out.str();
}

void MorphHook::export_structure(int64_t step) {
  const morph::Evaluation e = regularizer_->evaluate();
  int64_t alive = 0;
  for (bool a : e.groups.alive) alive += a;
  if (logger_) {
    char line[256];
    std::snprintf(line, sizeof line, "structure at step %lld: %s %.4g (%.1f%% of %.4g), %lld of %zu channel groups alive",
                  static_cast<long long>(step), regularizer_->cost_name().c_str(), e.cost,
                  full_cost_ > 0 ? 100 * e.cost / full_cost_ : 0.0, full_cost_, static_cast<long long>(alive),
                  e.groups.alive.size());
    logger_->note(line);
    logger_->record({{"event", "structure"}, {"step", step}, {"cost", e.cost}, {"full_cost", full_cost_},
                     {"alive", morph::learned_structure(*regularizer_)}});
  }
  if (options_.export_dir.empty()) return;
  const std::filesystem::path dir(options_.export_dir), history = dir / "structure";
  std::filesystem::create_directories(history);
  const std::string tag = std::to_string(step);
  morph::write_learned_structure((history / ("learned_structure_" + tag + ".json")).string(), *regularizer_);
  morph::write_structure_report((history / ("structure_" + tag + ".json")).string(), *regularizer_);
  morph::write_learned_structure((dir / "learned_structure.json").string(), *regularizer_);
}

nlohmann::json MorphHook::state() const {
  return {{"controller", controller_ ? controller_->state() : nlohmann::json(nullptr)}};
}

void MorphHook::load_state(const nlohmann::json& state) {
  if (controller_ && state.contains("controller") && !state["controller"].is_null())
    controller_->load_state(state["controller"]);
}

}  // namespace mt
