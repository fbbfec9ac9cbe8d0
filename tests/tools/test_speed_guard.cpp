// The never-slower guard's choice (tools/speed_guard.h), with the measurements given: which
// roundings it tries, in which order, what it keeps and what it says. The measurement itself runs
// in the pipeline test (tests/tools/test_cli.cpp).
#include <catch2/catch.hpp>

#include <map>

#include "tools/speed_guard.h"

using namespace mt;
using namespace mt::tools;

namespace {

// A selection that names its rounding, so the test can tell the candidates apart.
morph::ChannelSelection tagged(int64_t round_to) {
  morph::ChannelSelection s;
  s.copies = {round_to};
  return s;
}

struct Fake {
  std::map<int64_t, SpeedCheck> speed;     // per rounding
  std::map<int64_t, bool> over_budget;     // per rounding
  std::vector<int64_t> measured;

  CandidateFn candidate() {
    return [this](int64_t r) -> std::optional<morph::ChannelSelection> {
      if (over_budget[r]) return std::nullopt;
      return tagged(r);
    };
  }
  MeasureFn measure() {
    return [this](const morph::ChannelSelection& s) {
      measured.push_back(s.copies.at(0));
      return speed.at(s.copies.at(0));
    };
  }
};

SpeedCheck both(double morphtrain, double ort) { return {morphtrain, ort, ""}; }

bool any_note(const GuardedChoice& c, const std::string& text) {
  for (const std::string& n : c.notes)
    if (n.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("a slim model faster in both runtimes is kept as chosen", "[speed_guard]") {
  Fake f;
  f.speed[1] = both(1.6, 1.3);
  const GuardedChoice c = choose_not_slower(1, f.candidate(), f.measure());
  CHECK(c.round_to == 1);
  CHECK(f.measured == std::vector<int64_t>{1});
  REQUIRE(c.notes.size() == 1);
  CHECK(c.notes[0] == "speed check, widths rounded to 1: 1.60x the dense model's speed in morphtrain, 1.30x in ONNX Runtime");
}

TEST_CASE("slower in ONNX Runtime only: coarser rounding until neither is slower", "[speed_guard]") {
  Fake f;
  f.speed[1] = both(1.9, 0.95);  // the 30% structure as learned, measured in bench/deploy_speed.sh
  f.speed[16] = both(2.0, 1.49);
  f.speed[32] = both(2.1, 1.6);
  const GuardedChoice c = choose_not_slower(1, f.candidate(), f.measure());
  CHECK(c.round_to == 16);  // the first that is not slower, not the fastest
  CHECK(c.selection.copies == std::vector<int64_t>{16});
  CHECK(f.measured == std::vector<int64_t>{1, 16});
  CHECK(any_note(c, "slower than the dense model: trying widths rounded to 16"));
  CHECK(!c.speed.slower());
}

TEST_CASE("without ONNX Runtime, morphtrain's measurement alone decides", "[speed_guard]") {
  Fake f;
  f.speed[8] = {0.97, std::nullopt, "node not found"};
  f.speed[16] = {1.2, std::nullopt, "node not found"};
  const GuardedChoice c = choose_not_slower(8, f.candidate(), f.measure());
  CHECK(c.round_to == 16);
  CHECK(any_note(c, "ONNX Runtime not measured: node not found"));
}

TEST_CASE("a rounding that cannot keep the budget is skipped", "[speed_guard]") {
  Fake f;
  f.speed[1] = both(0.9, 0.9);
  f.over_budget[16] = true;
  f.speed[32] = both(1.1, 1.05);
  const GuardedChoice c = choose_not_slower(1, f.candidate(), f.measure());
  CHECK(c.round_to == 32);
  CHECK(f.measured == std::vector<int64_t>{1, 32});
  CHECK(any_note(c, "widths rounded to 16: cannot keep the budget, not tried"));
}

TEST_CASE("when every rounding is slower the fastest is kept, with a warning", "[speed_guard]") {
  Fake f;
  f.speed[16] = both(0.8, 0.7);
  f.speed[32] = both(0.95, 0.9);
  const GuardedChoice c = choose_not_slower(16, f.candidate(), f.measure());
  CHECK(f.measured == std::vector<int64_t>{16, 32});  // 16 is configured: no finer rounding is tried
  CHECK(c.round_to == 32);
  CHECK(c.speed.slower());
  CHECK(any_note(c, "WARNING: no rounding made the slim model as fast as the dense one"));
  CHECK(any_note(c, "kept the fastest (widths rounded to 32)"));

  // The configured rounding must give a structure: nothing to fall back on otherwise.
  f.over_budget[16] = true;
  CHECK_THROWS_AS(choose_not_slower(16, f.candidate(), f.measure()), ConfigError);
}

TEST_CASE("widths rounded by a latency table fall back to multiples of 16, then 32", "[speed_guard]") {
  Fake f;
  f.speed[kRoundByTable] = both(1.5, 0.9);
  f.speed[16] = both(1.4, 1.2);
  const GuardedChoice c = choose_not_slower(kRoundByTable, f.candidate(), f.measure());
  CHECK(f.measured == std::vector<int64_t>{kRoundByTable, 16});
  CHECK(c.round_to == 16);
  CHECK(any_note(c, "speed check, widths rounded by the latency table: 1.50x"));
  CHECK(any_note(c, "slower than the dense model: trying widths rounded to 16"));
}
