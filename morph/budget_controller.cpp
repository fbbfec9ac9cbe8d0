#include "morph/budget_controller.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace mt::morph {

BudgetController::BudgetController(double reference_cost, BudgetOptions options)
    : options_(options), budget_(options.target_fraction * reference_cost),
      strength_(options.initial_strength) {
  const BudgetOptions& o = options_;
  MT_CHECK(reference_cost > 0 && o.target_fraction > 0, ConfigError,
           "budget: reference cost and target fraction must be > 0, got ", reference_cost, " and ",
           o.target_fraction);
  MT_CHECK(o.min_strength > 0 && o.min_strength <= o.max_strength, ConfigError,
           "budget: need 0 < min_strength <= max_strength, got ", o.min_strength, " and ",
           o.max_strength);
  MT_CHECK(o.gain > 0 && o.max_step > 0 && o.dead_band >= 0 && o.horizon >= 0, ConfigError,
           "budget: gain and max_step must be > 0, dead_band and horizon >= 0");
  MT_CHECK(o.smoothing >= 0 && o.smoothing < 1, ConfigError, "budget: smoothing must be in [0, 1), got ",
           o.smoothing);
  strength_ = std::clamp(o.initial_strength, o.min_strength, o.max_strength);
}

double BudgetController::update(double cost) {
  MT_CHECK(std::isfinite(cost) && cost > 0, DataError, "budget: cost must be finite and > 0, got ", cost);
  previous_ = updates_ == 0 ? cost : smoothed_;
  smoothed_ = updates_++ == 0 ? cost : options_.smoothing * smoothed_ + (1 - options_.smoothing) * cost;
  const double error = std::log(smoothed_ / budget_) + options_.horizon * std::log(smoothed_ / previous_);
  if (std::abs(std::exp(error) - 1) > options_.dead_band) {
    const double step = std::clamp(options_.gain * error, -options_.max_step, options_.max_step);
    strength_ = std::clamp(strength_ * std::exp(step), options_.min_strength, options_.max_strength);
  }
  return strength_;
}

nlohmann::json BudgetController::state() const {
  return {{"strength", strength_}, {"smoothed_cost", smoothed_}, {"previous_cost", previous_}, {"updates", updates_},
          {"budget", budget_}};
}

void BudgetController::load_state(const nlohmann::json& state) {
  MT_CHECK(state.is_object() && state.contains("strength"), DataError,
           "budget: saved controller state has no 'strength'");
  strength_ = state.at("strength").get<double>();
  smoothed_ = state.value("smoothed_cost", 0.0);
  previous_ = state.value("previous_cost", smoothed_);
  updates_ = state.value("updates", 0LL);
}

}  // namespace mt::morph
