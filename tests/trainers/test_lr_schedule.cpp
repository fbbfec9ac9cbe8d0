// Learning-rate schedules at chosen steps, warm-up boundaries, and the config factory's errors.
// Expected values are PyTorch's closed forms (StepLR, MultiStepLR, CosineAnnealingLR) evaluated
// by hand.
#include <catch2/catch.hpp>

#include <cmath>

#include "trainers/lr_schedule.h"

using namespace mt;
using Json = nlohmann::json;

namespace {
LrSchedule make(LrScheduleConfig c) { return LrSchedule(std::move(c)); }
std::string config_error(const Json& j, double base = 0.1, int64_t spe = 100) {
  try {
    lr_schedule_from_json(j, base, spe);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("constant, step and multi_step schedules", "[optim][schedule]") {
  LrScheduleConfig c;
  c.base_lr = 0.1;
  CHECK(make(c).lr(0) == 0.1);
  CHECK(make(c).lr(123456) == 0.1);

  c.kind = LrScheduleKind::step;
  c.step_size = 30;
  c.gamma = 0.1;
  const LrSchedule step = make(c);
  CHECK(step.lr(0) == Approx(0.1));
  CHECK(step.lr(29) == Approx(0.1));
  CHECK(step.lr(30) == Approx(0.01));
  CHECK(step.lr(59) == Approx(0.01));
  CHECK(step.lr(60) == Approx(0.001));

  c.kind = LrScheduleKind::multi_step;
  c.milestones = {150, 100};  // unsorted on purpose
  c.gamma = 0.5;
  const LrSchedule multi = make(c);
  CHECK(multi.config().milestones == std::vector<int64_t>{100, 150});
  CHECK(multi.lr(99) == Approx(0.1));
  CHECK(multi.lr(100) == Approx(0.05));  // PyTorch decays at the milestone itself
  CHECK(multi.lr(149) == Approx(0.05));
  CHECK(multi.lr(150) == Approx(0.025));
  CHECK(multi.lr(10000) == Approx(0.025));
}

TEST_CASE("cosine follows CosineAnnealingLR's closed form", "[optim][schedule]") {
  LrScheduleConfig c;
  c.kind = LrScheduleKind::cosine;
  c.base_lr = 0.2;
  c.t_max = 100;
  c.eta_min = 0.02;
  const LrSchedule s = make(c);
  CHECK(s.lr(0) == Approx(0.2));
  CHECK(s.lr(50) == Approx(0.11));  // halfway: the mean of base and eta_min
  CHECK(s.lr(25) == Approx(0.02 + 0.18 * (1 + std::sqrt(0.5)) / 2));
  CHECK(s.lr(100) == Approx(0.02));
  CHECK(s.lr(150) == Approx(0.11));  // past T_max it rises again, as PyTorch's closed form does
}

TEST_CASE("linear warm-up ramps to the schedule's value at its end", "[optim][schedule]") {
  LrScheduleConfig c;
  c.kind = LrScheduleKind::cosine;
  c.base_lr = 0.4;
  c.t_max = 200;
  c.warmup_steps = 10;
  c.warmup_start_factor = 0.25;
  const LrSchedule s = make(c);
  const double at_end = 0.4 * (1 + std::cos(M_PI * 10 / 200)) / 2;
  CHECK(s.lr(0) == Approx(0.1));  // base * start_factor
  CHECK(s.lr(5) == Approx(0.1 + (at_end - 0.1) * 0.5));
  CHECK(s.lr(9) == Approx(0.1 + (at_end - 0.1) * 0.9));
  CHECK(s.lr(10) == Approx(at_end));  // the boundary: the schedule itself
  CHECK(s.lr(11) == Approx(0.4 * (1 + std::cos(M_PI * 11 / 200)) / 2));

  LrScheduleConfig k;  // warm-up into a constant schedule, starting from zero
  k.base_lr = 1.0;
  k.warmup_steps = 4;
  k.warmup_start_factor = 0;
  const LrSchedule w = make(k);
  CHECK(w.lr(0) == 0);
  CHECK(w.lr(1) == Approx(0.25));
  CHECK(w.lr(3) == Approx(0.75));
  CHECK(w.lr(4) == 1.0);

  LrScheduleConfig m;  // a milestone inside the warm-up: the ramp aims at the decayed value
  m.kind = LrScheduleKind::multi_step;
  m.base_lr = 1.0;
  m.milestones = {2};
  m.gamma = 0.1;
  m.warmup_steps = 4;
  m.warmup_start_factor = 0.5;
  CHECK(make(m).lr(2) == Approx(0.5 + (0.1 - 0.5) * 0.5));
  CHECK(make(m).lr(4) == Approx(0.1));
}

TEST_CASE("schedule factory converts epochs to steps", "[optim][schedule]") {
  const LrSchedule s = lr_schedule_from_json(
      Json{{"kind", "multi_step"}, {"unit", "epochs"}, {"milestones", {2, 4}}, {"gamma", 0.1},
           {"warmup", 0.5}, {"warmup_start_factor", 0.2}},
      0.1, 100);
  CHECK(s.config().milestones == std::vector<int64_t>{200, 400});
  CHECK(s.config().warmup_steps == 50);
  CHECK(s.lr(0) == Approx(0.02));
  CHECK(s.lr(199) == Approx(0.1));
  CHECK(s.lr(200) == Approx(0.01));
  CHECK(s.lr(400) == Approx(0.001));

  const LrSchedule c = lr_schedule_from_json(Json{{"kind", "cosine"}, {"t_max", 1000}}, 0.1, 0);
  CHECK(c.config().t_max == 1000);
  CHECK(c.lr(1000) == Approx(0.0).margin(1e-15));
  const LrSchedule st =
      lr_schedule_from_json(Json{{"kind", "step"}, {"unit", "epochs"}, {"step_size", 3}}, 0.1, 7);
  CHECK(st.config().step_size == 21);
  CHECK(st.config().gamma == 0.1);
}

TEST_CASE("schedule config errors name the key", "[optim][schedule]") {
  CHECK_THAT(config_error(Json{{"t_max", 5}}), Catch::Contains("schedule.kind: missing"));
  CHECK_THAT(config_error(Json{{"kind", "cosin"}}), Catch::Contains("schedule.kind") &&
                                                        Catch::Contains("\"cosin\""));
  CHECK_THAT(config_error(Json{{"kind", "cosine"}}), Catch::Contains("schedule.t_max: missing"));
  CHECK_THAT(config_error(Json{{"kind", "cosine"}, {"t_max", 10}, {"t_maxx", 3}}),
             Catch::Contains("schedule.t_maxx: unknown key (did you mean 't_max'?)"));
  CHECK_THAT(config_error(Json{{"kind", "cosine"}, {"t_max", 10}, {"gamma", 0.1}}),
             Catch::Contains("schedule.gamma: not used by kind 'cosine'"));
  CHECK_THAT(config_error(Json{{"kind", "step"}, {"step_size", "abc"}}),
             Catch::Contains("schedule.step_size: expected a whole number of steps") &&
                 Catch::Contains("\"abc\""));
  CHECK_THAT(config_error(Json{{"kind", "step"}, {"step_size", 0}}),
             Catch::Contains("schedule") && Catch::Contains("step_size = 0 must be >= 1"));
  CHECK_THAT(config_error(Json{{"kind", "step"}, {"step_size", 2}, {"gamma", -1}}),
             Catch::Contains("gamma = -1"));
  CHECK_THAT(config_error(Json{{"kind", "multi_step"}, {"milestones", {3, 3}}}),
             Catch::Contains("milestone 3 appears twice"));
  CHECK_THAT(config_error(Json{{"kind", "multi_step"}, {"milestones", {0, 3}}}),
             Catch::Contains("milestones[] = 0 must be >= 1"));
  CHECK_THAT(config_error(Json{{"kind", "constant"}, {"warmup", -2}}),
             Catch::Contains("schedule.warmup: -2 steps must be >= 0"));
  CHECK_THAT(config_error(Json{{"kind", "constant"}, {"warmup_start_factor", 1.5}}),
             Catch::Contains("warmup_start_factor = 1.5 must be in [0, 1]"));
  CHECK_THAT(config_error(Json{{"kind", "constant"}, {"unit", "epoch"}}),
             Catch::Contains("schedule.unit"));
  CHECK_THAT(config_error(Json{{"kind", "constant"}, {"unit", "epochs"}}, 0.1, 0),
             Catch::Contains("steps per epoch"));
  CHECK_THAT(config_error(Json{{"kind", "constant"}}, -1.0), Catch::Contains("base_lr = -1"));
  CHECK_THAT(config_error(Json::array()), Catch::Contains("expected an object"));
  CHECK_THROWS_AS(make(LrScheduleConfig{}).lr(-1), ConfigError);
  LrScheduleConfig negative;
  negative.warmup_steps = -2;
  CHECK_THROWS_WITH(make(negative), Catch::Contains("warmup_steps = -2 must be >= 0"));
}
