// Tick arithmetic of the SVG plots: nice steps, ticks that cover the data, compact labels.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "tools/plot_axes.h"

using namespace mt::tools;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// 1, 2 or 5 times a power of ten.
bool is_nice(double step) {
  if (!(step > 0)) return false;
  const double mant = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
  return std::fabs(mant - 1) < 1e-9 || std::fabs(mant - 2) < 1e-9 || std::fabs(mant - 5) < 1e-9;
}

bool is_multiple(double v, double step) {
  const double q = v / step;
  return std::fabs(q - std::round(q)) < 1e-6;
}

void check_ticks(const Ticks& t, int max_ticks) {
  INFO("lo " << t.lo << " hi " << t.hi << " step " << t.step << " count " << t.values.size());
  REQUIRE(std::isfinite(t.lo));
  REQUIRE(std::isfinite(t.hi));
  REQUIRE(t.lo < t.hi);
  REQUIRE(t.values.size() >= 2);
  REQUIRE(static_cast<int>(t.values.size()) <= max_ticks);
  CHECK(is_nice(t.step));
  for (size_t i = 0; i < t.values.size(); ++i) {
    CHECK(std::isfinite(t.values[i]));
    CHECK(is_multiple(t.values[i], t.step));
    if (i > 0) CHECK(t.values[i] - t.values[i - 1] == Approx(t.step));
  }
}

}  // namespace

TEST_CASE("nice_step rounds up to 1, 2 or 5 times a power of ten", "[tools][plot]") {
  CHECK(nice_step(0.7) == Approx(1));
  CHECK(nice_step(1) == Approx(1));
  CHECK(nice_step(1.01) == Approx(2));
  CHECK(nice_step(3) == Approx(5));
  CHECK(nice_step(8.2e6) == Approx(1e7));
  CHECK(nice_step(0.013) == Approx(0.02));
  CHECK(nice_step(0) == 1);
  CHECK(nice_step(kNaN) == 1);
}

TEST_CASE("linear ticks are nice and cover the data", "[tools][plot]") {
  const double ranges[][2] = {{0, 1},         {40e6, 81e6}, {-3, 7},     {0.001, 0.0013},
                              {1, 3000},      {0.62, 0.97}, {-1e-6, 0},  {12345, 12346},
                              {1e-300, 1e300}};
  for (const auto& r : ranges) {
    for (int max_ticks : {3, 5, 7, 10}) {
      INFO("data [" << r[0] << ", " << r[1] << "], max " << max_ticks);
      const Ticks t = linear_ticks(r[0], r[1], max_ticks, true);
      check_ticks(t, max_ticks);
      CHECK(t.lo <= r[0]);
      CHECK(t.hi >= r[1]);
      CHECK(t.values.front() == Approx(t.lo));
      CHECK(t.values.back() == Approx(t.hi));
    }
  }
  const Ticks cost = linear_ticks(40e6, 81e6, 7, true);
  CHECK(cost.lo == 40e6);
  CHECK(cost.hi == 90e6);
  CHECK(cost.step == 10e6);
}

TEST_CASE("linear ticks without extension stay inside the range; integer axes step >= 1",
          "[tools][plot]") {
  const Ticks t = linear_ticks(1, 2999, 8, false);
  // Ends within 2% of a tick snap to it: 1..2999 is drawn as 0..3000.
  CHECK(t.lo == 0);
  CHECK(t.hi == 3000);
  CHECK(t.values.front() == 0);
  CHECK(t.values.back() == 3000);

  const Ticks far = linear_ticks(130, 2890, 8, false);  // too far from 0 and 3000 to snap
  CHECK(far.lo == 130);
  CHECK(far.hi == 2890);
  for (double v : far.values) CHECK((v >= 130 && v <= 2890));

  const Ticks epochs = linear_ticks(1, 3, 10, false, true);
  CHECK(epochs.step == 1);
  REQUIRE(epochs.values.size() == 3);
  CHECK(epochs.values[0] == 1);
}

TEST_CASE("degenerate ranges never divide by zero", "[tools][plot]") {
  for (const auto& [lo, hi] : {std::pair{5.0, 5.0}, {0.0, 0.0}, {kNaN, kNaN}, {kNaN, 3.0},
                               {-kInf, kInf}, {7.0, 2.0}, {1e-320, 1e-320}}) {
    INFO("lo " << lo << " hi " << hi);
    const Ticks t = linear_ticks(lo, hi, 6, true);
    check_ticks(t, 6);
    if (std::isfinite(lo) && std::isfinite(hi)) {
      CHECK(t.lo <= std::min(lo, hi));
      CHECK(t.hi >= std::max(lo, hi));
    }
  }
  // A constant sits inside the band, not on its edge.
  const Ticks c = linear_ticks(0.5, 0.5, 6, true);
  CHECK(c.lo < 0.5);
  CHECK(c.hi > 0.5);
}

TEST_CASE("log ticks are powers of ten (with 2 and 5 over short ranges)", "[tools][plot]") {
  const Ticks wide = log_ticks(3e-4, 2e5, 6);
  CHECK(wide.lo <= 3e-4);
  CHECK(wide.hi >= 2e5);
  CHECK(wide.values.size() <= 6);
  for (double v : wide.values) CHECK(std::log10(v) == Approx(std::round(std::log10(v))));

  const Ticks cost = log_ticks(40e6, 81e6, 6);
  CHECK(cost.lo <= 40e6);
  CHECK(cost.hi >= 81e6);
  CHECK(cost.values.size() >= 2);
  for (double v : cost.values) CHECK(is_nice(v));

  const Ticks bad = log_ticks(-1, 0, 6);  // nothing positive: a default decade
  CHECK(bad.lo > 0);
  CHECK(bad.hi > bad.lo);
}

TEST_CASE("tick labels share a suffix and a number of decimals", "[tools][plot]") {
  using V = std::vector<std::string>;
  CHECK(format_ticks({0, 20e6, 40e6, 60e6}, 20e6, false) == V{"0", "20M", "40M", "60M"});
  CHECK(format_ticks({40e6, 40.5e6, 41e6}, 0.5e6, false) == V{"40.0M", "40.5M", "41.0M"});
  CHECK(format_ticks({0, 0.05, 0.1}, 0.05, false) == V{"0", "0.05", "0.10"});
  CHECK(format_ticks({1000, 2000, 3000}, 1000, false) == V{"1000", "2000", "3000"});
  CHECK(format_ticks({0, 5000, 10000}, 5000, false) == V{"0", "5k", "10k"});
  CHECK(format_ticks({0.8, 0.85, 0.9}, 0.05, true) == V{"80%", "85%", "90%"});
  CHECK(format_ticks({-1, 0, 1}, 1, false) == V{"-1", "0", "1"});
  CHECK(format_ticks({1e-5, 2e-5}, 1e-5, false) == V{"1e-5", "2e-5"});
}

TEST_CASE("compact values: 3 significant digits, suffixes, never nan", "[tools][plot]") {
  CHECK(format_compact(81234567) == "81.2M");
  CHECK(format_compact(1234) == "1.23k");
  CHECK(format_compact(-1500) == "-1.5k");
  CHECK(format_compact(999999) == "1M");
  CHECK(format_compact(64) == "64");
  CHECK(format_compact(0.05) == "0.05");
  CHECK(format_compact(2e-7) == "2e-7");
  CHECK(format_compact(0) == "0");
  CHECK(format_compact(0.873, true) == "87.3%");
  CHECK(format_compact(kNaN) == "n/a");
  CHECK(format_compact(-kInf) == "n/a");
}
