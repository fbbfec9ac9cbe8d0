#include "tools/plot_axes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace mt::tools {
namespace {

// Bounds the arithmetic below away from overflow: (hi - lo) stays finite.
constexpr double kHuge = 1e300;
// Tolerance for "this quotient is an integer" after floating-point division.
constexpr double kEps = 1e-9;

// [lo, hi] made finite, ordered and of positive width, so nothing divides by zero later.
std::pair<double, double> sane_range(double lo, double hi, bool integer_only) {
  if (!std::isfinite(lo) && !std::isfinite(hi)) return {0.0, 1.0};
  if (!std::isfinite(lo)) lo = hi;
  if (!std::isfinite(hi)) hi = lo;
  lo = std::clamp(lo, -kHuge, kHuge);
  hi = std::clamp(hi, -kHuge, kHuge);
  if (hi < lo) std::swap(lo, hi);
  const double mag = std::max(std::fabs(lo), std::fabs(hi));
  if (hi - lo > mag * 1e-12) return {lo, hi};
  // Constant data: a band around the value, so the line sits mid-plot.
  if (mag == 0) return {0.0, 1.0};
  double pad = mag * 0.1;
  if (integer_only) pad = std::max(pad, 1.0);
  return {lo - pad, hi + pad};
}

std::string strip_exponent_zeros(std::string s) {
  // "1.5e-05" -> "1.5e-5", "2e+20" -> "2e20": printf pads exponents, people do not.
  const size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mant = s.substr(0, e);
  std::string exp = s.substr(e + 1);
  std::string sign;
  if (!exp.empty() && (exp[0] == '-' || exp[0] == '+')) {
    if (exp[0] == '-') sign = "-";
    exp.erase(0, 1);
  }
  exp.erase(0, std::min(exp.find_first_not_of('0'), exp.size() - 1));
  return mant + "e" + sign + exp;
}

std::string trim_zeros(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string fixed(double x, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}

struct Suffix {
  double scale;
  const char* text;
};

// The suffix for a whole axis: only from 10k up, so that 1000..3000 stay plain numbers.
Suffix axis_suffix(double max_abs) {
  if (max_abs >= 1e12) return {1e12, "T"};
  if (max_abs >= 1e9) return {1e9, "G"};
  if (max_abs >= 1e6) return {1e6, "M"};
  if (max_abs >= 1e4) return {1e3, "k"};
  return {1.0, ""};
}

}  // namespace

double nice_step(double raw) {
  if (!(raw > 0) || !std::isfinite(raw)) return 1.0;
  const double base = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * base >= raw * (1 - 1e-12)) return m * base;
  }
  return 10.0 * base;
}

Ticks linear_ticks(double lo, double hi, int max_ticks, bool extend, bool integer_only) {
  max_ticks = std::max(max_ticks, 2);
  const auto [a, b] = sane_range(lo, hi, integer_only);
  double step = nice_step((b - a) / (max_ticks - 1));
  if (integer_only) step = std::max(step, 1.0);
  double first = 0, last = 0;
  // The first nice step whose ticks fit; each retry moves 1 -> 2 -> 5 -> 10.
  for (int tries = 0; tries < 16; ++tries) {
    first = extend ? std::floor(a / step + kEps) : std::ceil(a / step - kEps);
    last = extend ? std::ceil(b / step - kEps) : std::floor(b / step + kEps);
    if (last - first + 1 <= max_ticks) break;
    step = nice_step(step * 1.5);
  }
  // An axis that hugs the data still ends on a tick when one is within 2% of the range away
  // (0..2999 reads better as 0..3000).
  const double snap = (b - a) * 0.02;
  if (!extend && first * step - a > 0 && a - (first - 1) * step <= snap && last - first + 2 <= max_ticks) --first;
  if (!extend && b - last * step > 0 && (last + 1) * step - b <= snap && last - first + 2 <= max_ticks) ++last;
  Ticks t;
  t.step = step;
  t.lo = extend ? first * step : std::min(a, first * step);
  t.hi = extend ? last * step : std::max(b, last * step);
  for (double i = first; i <= last; ++i) t.values.push_back(i == 0 ? 0.0 : i * step);
  return t;
}

Ticks log_ticks(double lo, double hi, int max_ticks) {
  max_ticks = std::max(max_ticks, 2);
  if (!(hi > 0) || !std::isfinite(hi)) hi = 10;
  if (!(lo > 0) || !std::isfinite(lo)) lo = std::min(1.0, hi / 10);
  if (hi < lo) std::swap(lo, hi);
  if (hi <= lo * (1 + 1e-12)) {  // constant data: one octave either side
    lo /= 2;
    hi *= 2;
  }
  const int dlo = static_cast<int>(std::floor(std::log10(lo) + kEps));
  const int dhi = std::max(static_cast<int>(std::ceil(std::log10(hi) - kEps)), dlo + 1);
  // The range widens only to the nearest 1, 2 or 5 x 10^k; ticks at all of those when they fit.
  std::vector<double> cands;
  for (int k = dlo; k <= dhi; ++k) {
    for (double m : {1.0, 2.0, 5.0}) cands.push_back(m * std::pow(10.0, k));
  }
  size_t i0 = 0, i1 = cands.size() - 1;
  while (i0 + 1 < cands.size() && cands[i0 + 1] <= lo * (1 + kEps)) ++i0;
  while (i1 > 0 && cands[i1 - 1] >= hi * (1 - kEps)) --i1;
  Ticks t;
  t.lo = cands[i0];
  t.hi = cands[i1];
  if (static_cast<int>(i1 - i0 + 1) <= max_ticks) {
    t.values.assign(cands.begin() + i0, cands.begin() + i1 + 1);
    return t;
  }
  // Otherwise the powers of ten inside (every stride-th one), over whole decades when fewer
  // than two powers would show.
  int k0 = static_cast<int>(std::ceil(std::log10(t.lo) - kEps));
  int k1 = static_cast<int>(std::floor(std::log10(t.hi) + kEps));
  if (k1 - k0 < 1) {
    k0 = dlo;
    k1 = dhi;
    t.lo = std::pow(10.0, dlo);
    t.hi = std::pow(10.0, dhi);
  }
  const int stride = (k1 - k0 + max_ticks - 2) / (max_ticks - 1);
  for (int k = k0; k <= k1; k += stride) t.values.push_back(std::pow(10.0, k));
  return t;
}

std::vector<std::string> format_ticks(const std::vector<double>& values, double step, bool percent) {
  std::vector<std::string> out;
  const double mult = percent ? 100.0 : 1.0;
  double max_abs = 0;
  for (double v : values) max_abs = std::max(max_abs, std::fabs(v * mult));
  const Suffix suf = percent ? Suffix{1.0, ""} : axis_suffix(max_abs);
  const double scaled_step = step * mult / suf.scale;
  const int decimals =
      scaled_step > 0 ? std::max(0, static_cast<int>(std::ceil(-std::log10(scaled_step) - kEps))) : 99;
  // Log axes (no common step), tiny values and very fine steps read better one by one.
  const bool one_by_one = decimals > 6 || (!percent && max_abs > 0 && max_abs < 1e-3);
  for (double v : values) {
    if (one_by_one || !std::isfinite(v)) {
      out.push_back(format_compact(v, percent));
      continue;
    }
    const double x = v * mult / suf.scale;
    if (std::fabs(x) < scaled_step * 1e-6) {
      out.push_back(percent ? "0%" : "0");
      continue;
    }
    out.push_back(fixed(x, decimals) + suf.text + (percent ? "%" : ""));
  }
  return out;
}

std::string format_compact(double value, bool percent) {
  if (!std::isfinite(value)) return "n/a";
  const std::string unit = percent ? "%" : "";
  double v = percent ? value * 100 : value;
  if (v == 0) return "0" + unit;
  const double a = std::fabs(v);
  if ((!percent && a < 1e-3) || a >= 1e15) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return strip_exponent_zeros(buf) + unit;
  }
  static const Suffix kSuffixes[] = {{1.0, ""}, {1e3, "k"}, {1e6, "M"}, {1e9, "G"}, {1e12, "T"}};
  size_t s = 0;
  while (!percent && s + 1 < std::size(kSuffixes) && a >= kSuffixes[s + 1].scale) ++s;
  for (;; ++s) {
    const double mant = v / kSuffixes[s].scale;
    const int decimals = std::max(0, 2 - static_cast<int>(std::floor(std::log10(std::fabs(mant)))));
    const double p = std::pow(10.0, decimals);
    const double rounded = std::round(mant * p) / p;
    // 999.96k rounds to 1000k: say 1M instead.
    if (!percent && std::fabs(rounded) >= 1000 && s + 1 < std::size(kSuffixes)) continue;
    return trim_zeros(fixed(rounded, decimals)) + kSuffixes[s].text + unit;
  }
}

}  // namespace mt::tools
