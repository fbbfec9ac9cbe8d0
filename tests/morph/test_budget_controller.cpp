// The budget controller against a synthetic plant: a cost that falls with the strength and
// follows it with a lag, as a network's alive channels follow the regularizer.
#include <catch2/catch.hpp>

#include <cmath>

#include "core/error.h"
#include "morph/budget_controller.h"

using namespace mt;
using morph::BudgetController;
using morph::BudgetOptions;

namespace {

struct Plant {
  double c0 = 1e8, s0 = 1e-8, lag = 0.05;
  double cost = c0;
  // The cost the network would settle at for strength s: c0 / (1 + (s / s0)^1.5).
  double settled(double s) const { return c0 / (1 + std::pow(s / s0, 1.5)); }
  double step(double s) { return cost += lag * (settled(s) - cost); }
};

// Runs the loop; returns the worst |cost / budget - 1| over the last `tail` steps.
double run(BudgetController& ctl, Plant& plant, int steps, int tail) {
  double worst = 0;
  double s = ctl.strength();
  for (int t = 0; t < steps; ++t) {
    s = ctl.update(plant.step(s));
    if (t >= steps - tail) worst = std::max(worst, std::abs(plant.cost / ctl.budget() - 1));
  }
  return worst;
}

}  // namespace

TEST_CASE("the controller drives the cost into +-5% of the budget", "[morph][budget]") {
  const double start = GENERATE(1e-11, 1e-8, 1e-5);  // far under, near, far over
  const double fraction = GENERATE(0.3, 0.5, 0.8);
  Plant plant;
  BudgetOptions o;
  o.target_fraction = fraction;
  o.initial_strength = start;
  BudgetController ctl(plant.c0, o);
  INFO("start " << start << ", fraction " << fraction);
  CHECK(ctl.budget() == fraction * plant.c0);
  CHECK(run(ctl, plant, 3000, 500) <= 0.05);
  // It settled near the strength that yields the budget: (1 / fraction - 1)^(2/3) x s0.
  CHECK(std::abs(std::log(ctl.strength() / (std::pow(1 / fraction - 1, 2.0 / 3) * plant.s0))) < 0.1);
}

TEST_CASE("the controller holds still in the dead band, moves by at most max_step, stays clamped",
          "[morph][budget]") {
  BudgetOptions o;
  o.initial_strength = 1e-6;
  o.max_strength = 2e-6;
  o.horizon = 0;  // the integral law alone
  BudgetController ctl(100, o);  // budget 50
  CHECK(ctl.update(50.9) == 1e-6);   // inside +-2%
  CHECK(ctl.update(1000) == Approx(1e-6 * std::exp(0.05)));  // gain x ln 20 = 0.3, clamped to 0.05
  CHECK(ctl.update(51.5) > ctl.strength() * 0.999);          // 3% over: up by gain x ln 1.03
  for (int i = 0; i < 100; ++i) ctl.update(1000);
  CHECK(ctl.strength() == 2e-6);
  const double before = ctl.strength();
  ctl.update(10);  // far under budget: down by e^-0.05
  CHECK(ctl.strength() == Approx(before * std::exp(-0.05)));
}

TEST_CASE("prediction keeps a slow plant from overshooting the budget", "[morph][budget]") {
  // Channels die long after the strength that kills them: a plant 5x slower than above.
  for (const double horizon : {0.0, 50.0}) {
    Plant plant;
    plant.lag = 0.01;
    BudgetOptions o;
    o.initial_strength = 1e-10;
    o.horizon = horizon;
    BudgetController ctl(plant.c0, o);
    double lowest = plant.c0, s = ctl.strength();
    for (int t = 0; t < 4000; ++t) {
      s = ctl.update(plant.step(s));
      lowest = std::min(lowest, plant.cost);
    }
    INFO("horizon " << horizon << ": lowest cost " << lowest / ctl.budget() << " x budget");
    if (horizon > 0)
      CHECK(lowest > 0.93 * ctl.budget());  // at most 7% under, on the way in
    else
      CHECK(lowest < 0.9 * ctl.budget());   // the integral law alone overshoots this plant
    CHECK(std::abs(plant.cost / ctl.budget() - 1) < 0.05);
  }
}

TEST_CASE("controller state survives a resume; bad settings are refused", "[morph][budget]") {
  BudgetOptions o;
  o.smoothing = 0.9;
  BudgetController a(100, o);
  for (double c : {90.0, 80.0, 70.0}) a.update(c);
  BudgetController b(100, o);
  b.load_state(a.state());
  CHECK(b.strength() == a.strength());
  CHECK(b.smoothed_cost() == a.smoothed_cost());
  CHECK(a.update(60) == b.update(60));
  o.smoothing = 1;
  CHECK_THROWS_AS(BudgetController(100, o), ConfigError);
  CHECK_THROWS_AS(BudgetController(0, BudgetOptions{}), ConfigError);
  CHECK_THROWS_AS(a.update(std::nan("")), DataError);
}
