#pragma once
// Axis arithmetic for the SVG plots: "nice" tick positions (1, 2, 5 x 10^k) and compact tick
// labels (1.2k, 3.4M, 0.05, 50%). Pure functions of numbers, so they are unit-tested directly.
#include <string>
#include <vector>

namespace mt::tools {

struct Ticks {
  double lo = 0, hi = 1;        // the axis range (covers the data; widened to ticks if asked)
  double step = 0;              // distance between ticks (0 for log axes)
  std::vector<double> values;   // ascending, all inside [lo, hi]
};

// Ticks for a linear axis over [lo, hi], at most `max_ticks` of them (>= 2).
// extend: widen [lo, hi] outwards to the nearest ticks (value axes); otherwise the range stays
// as given, save that an end within 2% of the range from a tick snaps to it, and only the ticks
// inside are kept (x axes that should hug the data).
// integer_only: never a step below 1 (epochs, steps).
// A degenerate range (lo == hi, NaN, infinite) is widened around the value, never divided by.
Ticks linear_ticks(double lo, double hi, int max_ticks, bool extend, bool integer_only = false);

// Ticks for a log10 axis over [lo, hi] (both > 0; otherwise a default decade): the range widens to
// the nearest 1, 2 or 5 x 10^k; ticks at all of those when at most max_ticks, else at powers of ten.
Ticks log_ticks(double lo, double hi, int max_ticks);

// The smallest of {1, 2, 5} x 10^k that is >= raw (raw > 0).
double nice_step(double raw);

// One label per tick, sharing one suffix (k, M, G, T) and one number of decimals, e.g.
// {0, 20M, 40M}, {0.05, 0.10}, {80%, 85%} (percent: values are fractions, 0.5 -> "50%").
std::vector<std::string> format_ticks(const std::vector<double>& values, double step, bool percent);

// One value on its own in about 3 significant digits: 81234567 -> "81.2M", 0.05 -> "0.05",
// 2e-7 -> "2e-7", 0.873 with percent -> "87.3%". Never "nan" or "inf" (those give "n/a").
std::string format_compact(double value, bool percent = false);

}  // namespace mt::tools
