#include "trainers/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

#include "core/error.h"

namespace mt {

std::string_view lr_schedule_kind_name(LrScheduleKind kind) {
  switch (kind) {
    case LrScheduleKind::constant: return "constant";
    case LrScheduleKind::step: return "step";
    case LrScheduleKind::multi_step: return "multi_step";
    case LrScheduleKind::cosine: return "cosine";
  }
  return "?";
}

namespace {

void require(bool ok, std::string_view field, double value, std::string_view rule) {
  MT_CHECK(ok, ConfigError, "[lr_schedule] ", field, " = ", value, " must be ", rule);
}

void validate(LrScheduleConfig& c) {
  require(std::isfinite(c.base_lr) && c.base_lr >= 0, "base_lr", c.base_lr, "finite and >= 0");
  require(c.warmup_steps >= 0, "warmup_steps", static_cast<double>(c.warmup_steps), ">= 0");
  require(c.warmup_start_factor >= 0 && c.warmup_start_factor <= 1, "warmup_start_factor",
          c.warmup_start_factor, "in [0, 1]");
  switch (c.kind) {
    case LrScheduleKind::constant: break;
    case LrScheduleKind::step:
      require(c.step_size >= 1, "step_size", static_cast<double>(c.step_size), ">= 1");
      require(std::isfinite(c.gamma) && c.gamma > 0, "gamma", c.gamma, "finite and > 0");
      break;
    case LrScheduleKind::multi_step: {
      require(std::isfinite(c.gamma) && c.gamma > 0, "gamma", c.gamma, "finite and > 0");
      MT_CHECK(!c.milestones.empty(), ConfigError, "[lr_schedule] multi_step needs milestones");
      std::sort(c.milestones.begin(), c.milestones.end());
      for (size_t i = 0; i < c.milestones.size(); ++i) {
        require(c.milestones[i] >= 1, "milestones[]", static_cast<double>(c.milestones[i]), ">= 1");
        MT_CHECK(i == 0 || c.milestones[i] != c.milestones[i - 1], ConfigError,
                 "[lr_schedule] milestone ", c.milestones[i], " appears twice");
      }
      break;
    }
    case LrScheduleKind::cosine:
      require(c.t_max >= 1, "t_max", static_cast<double>(c.t_max), ">= 1");
      require(std::isfinite(c.eta_min) && c.eta_min >= 0, "eta_min", c.eta_min, "finite and >= 0");
      break;
  }
}

}  // namespace

LrSchedule::LrSchedule(LrScheduleConfig config) : config_(std::move(config)) { validate(config_); }

double LrSchedule::schedule(int64_t t) const {
  const LrScheduleConfig& c = config_;
  switch (c.kind) {
    case LrScheduleKind::constant: return c.base_lr;
    case LrScheduleKind::step:
      return c.base_lr * std::pow(c.gamma, static_cast<double>(t / c.step_size));
    case LrScheduleKind::multi_step: {
      const auto passed = std::upper_bound(c.milestones.begin(), c.milestones.end(), t) -
                          c.milestones.begin();
      return c.base_lr * std::pow(c.gamma, static_cast<double>(passed));
    }
    case LrScheduleKind::cosine: {
      const double phase = std::numbers::pi * static_cast<double>(t) / static_cast<double>(c.t_max);
      return c.eta_min + (c.base_lr - c.eta_min) * (1 + std::cos(phase)) / 2;
    }
  }
  return c.base_lr;
}

double LrSchedule::lr(int64_t step) const {
  MT_CHECK(step >= 0, ConfigError, "[lr_schedule] lr() of step ", step, " < 0");
  const int64_t w = config_.warmup_steps;
  if (step >= w) return schedule(step);
  const double start = config_.base_lr * config_.warmup_start_factor;
  const double frac = static_cast<double>(step) / static_cast<double>(w);
  return start + (schedule(w) - start) * frac;
}

}  // namespace mt
