#pragma once
// Budget mode: instead of a fixed regularization strength, aim the learned structure at a cost
// budget (e.g. half the network's FLOPs) by adapting the strength as training goes.
//
// The law, an integral controller on the log of the cost ratio with a dead band:
//   c_t   = smoothing x c_{t-1} + (1 - smoothing) x cost_t      (an EMA; smoothing 0: raw cost)
//   e_t   = ln(c_t / budget)
//   if |exp(e_t) - 1| > dead_band:
//       ln s_{t+1} = ln s_t + clamp(gain x e_t, -max_step, +max_step)
//   s_{t+1} = clamp(s_{t+1}, min_strength, max_strength)
//   with prediction, e_t is replaced by e_t + horizon x ln(c_t / c_{t-1}): the error expected
//   `horizon` updates ahead if the cost keeps its current rate
// Over budget raises the strength, under budget lowers it, multiplicatively, so one gain serves
// strengths of any magnitude (MorphNet's FLOP strengths are ~1e-9, latency's others). The dead
// band stops the strength from chattering once the cost is close enough; max_step bounds how far
// one noisy reading can move it. Call update() every step or every few steps (the cost follows
// the strength only as channels die, hundreds of steps later: keep gain x updates-per-response
// small).
#include <nlohmann/json.hpp>

namespace mt::morph {

struct BudgetOptions {
  double target_fraction = 0.5;   // budget = target_fraction x reference cost
  double initial_strength = 1e-9;
  double gain = 0.1;
  double max_step = 0.05;         // e^0.05: at most +-5% per update
  double dead_band = 0.02;        // +-2% of the budget
  double min_strength = 1e-15;
  double max_strength = 1e3;
  double smoothing = 0;           // in [0, 1)
  // Prediction: act on where the cost will be `horizon` updates ahead at its current rate of
  // change, not where it is (the derivative term of a PD controller; 0: integral action only).
  // Channels keep dying for hundreds of steps after the strength that kills them is reached;
  // acting on the present cost alone keeps raising the strength all that time and overshoots.
  double horizon = 50;
};

class BudgetController {
 public:
  // reference_cost: usually NetworkRegularizer::full_cost(), the network as built.
  BudgetController(double reference_cost, BudgetOptions options);

  // Feeds the current cost; returns the strength to use from now on.
  double update(double cost);
  double strength() const { return strength_; }
  double budget() const { return budget_; }
  double smoothed_cost() const { return smoothed_; }
  const BudgetOptions& options() const { return options_; }

  // For a resume: strength, smoothed cost and update count.
  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);

 private:
  BudgetOptions options_;
  double budget_;
  double strength_;
  double smoothed_ = 0;
  double previous_ = 0;  // the smoothed cost at the previous update
  long long updates_ = 0;
};

}  // namespace mt::morph
