#pragma once
// Learning-rate schedules as pure functions of the optimizer step: lr(step) needs no history, so
// resuming from a checkpoint is just evaluating it at the saved step.
//
//   constant    base
//   step        base * gamma^floor(t / step_size)                      (PyTorch StepLR)
//   multi_step  base * gamma^(number of milestones <= t)               (MultiStepLR)
//   cosine      eta_min + (base - eta_min) * (1 + cos(pi t / T_max)) / 2
//               (CosineAnnealingLR's closed form; like it, it rises again past T_max)
//
// Optional linear warm-up over the first W steps: lr ramps from base * warmup_start_factor at
// t = 0 to the schedule's own value at t = W, which it reaches exactly; from W on the schedule
// runs unchanged (it counts from step 0, not from the end of the warm-up).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace mt {

enum class LrScheduleKind : uint8_t { constant, step, multi_step, cosine };

// Every duration in optimizer steps.
struct LrScheduleConfig {
  LrScheduleKind kind = LrScheduleKind::constant;
  double base_lr = 0.1;
  int64_t step_size = 0;           // step
  double gamma = 0.1;              // step, multi_step
  std::vector<int64_t> milestones;  // multi_step: strictly increasing, >= 1 (sorted on validation)
  int64_t t_max = 0;               // cosine
  double eta_min = 0;              // cosine
  int64_t warmup_steps = 0;
  double warmup_start_factor = 0.1;  // in [0, 1]
};

class LrSchedule {
 public:
  // Validates (ConfigError naming the field and its rule).
  explicit LrSchedule(LrScheduleConfig config);

  // The learning rate of optimizer step `step` (0-based).
  double lr(int64_t step) const;
  const LrScheduleConfig& config() const { return config_; }

 private:
  double schedule(int64_t step) const;  // without warm-up

  LrScheduleConfig config_;
};

std::string_view lr_schedule_kind_name(LrScheduleKind kind);

// From a config object such as
//   {"kind": "cosine", "unit": "epochs", "t_max": 200, "eta_min": 0,
//    "warmup": 5, "warmup_start_factor": 0.1}
// Durations (step_size, milestones, t_max, warmup) count `unit`s: "steps" (the default) or
// "epochs", converted with steps_per_epoch (fractional epochs round to the nearest step).
// Unknown keys, keys the kind does not use, wrong types and invalid values throw ConfigError
// naming `path.key`.
LrSchedule lr_schedule_from_json(const nlohmann::json& config, double base_lr,
                                 int64_t steps_per_epoch, std::string_view path = "schedule");

}  // namespace mt
