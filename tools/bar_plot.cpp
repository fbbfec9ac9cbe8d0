// bar_plot(): grouped bars per category, e.g. channels per layer before and after pruning.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "tools/plot_frame.h"
#include "tools/svg_plot.h"

namespace mt::tools {
namespace {
using namespace plot;

constexpr double kValueSize = 9;      // value labels at the bar ends
constexpr double kMaxNameShare = 0.4; // category names take at most this share of the width
constexpr double kColumnPlotHeight = 260;
constexpr double kManyRows = 25;      // more rows than this: tick labels above the plot too

struct Frame {
  Rect plot;
  double width = 0, height = 0, legend_y = 0;
  Ticks vt;                      // value axis
  std::vector<std::string> vl;   // its labels
  std::vector<std::string> names;  // category names, shortened to fit
};

void check(const BarPlot& p) {
  for (const auto& s : p.series) {
    MT_CHECK(s.values.size() == p.categories.size(), DataError, "[bar_plot] series '", s.label,
             "' has ", s.values.size(), " values for ", p.categories.size(), " categories");
  }
}

// The value range always includes 0: bars grow from zero.
std::pair<double, double> value_range(const BarPlot& p) {
  double lo = 0, hi = 0;
  for (const auto& s : p.series) {
    for (double v : s.values) {
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  return {lo, hi};
}

double widest_value_label(const BarPlot& p) {
  if (!p.value_labels) return 0;
  double w = 0;
  for (const auto& s : p.series) {
    for (double v : s.values) {
      if (std::isfinite(v)) w = std::max(w, text_width(format_compact(v), kValueSize));
    }
  }
  return w;
}

std::vector<LegendEntry> legend_of(const BarPlot& p) {
  std::vector<LegendEntry> out;
  for (size_t i = 0; i < p.series.size(); ++i) {
    const auto& s = p.series[i];
    if (!s.label.empty()) out.push_back({s.label, s.color.empty() ? palette_color(i) : s.color, false, true});
  }
  return out;
}

std::vector<std::string> fitted_names(const BarPlot& p, double max_width) {
  std::vector<std::string> out;
  for (const auto& c : p.categories) out.push_back(fit_text(c, max_width, kTickSize));
  return out;
}

// Rows: names at the left, value axis along the bottom (and the top for long charts).
Frame horizontal_frame(const BarPlot& p, double legend_h) {
  Frame f;
  const double n = static_cast<double>(p.categories.size());
  const double m = static_cast<double>(std::max<size_t>(p.series.size(), 1));
  f.width = p.width;
  f.names = fitted_names(p, p.width * kMaxNameShare);
  const double left = kPad + max_label_width(f.names) + 8;
  const double right = kPad + (p.value_labels ? widest_value_label(p) + 8 : 10);
  f.legend_y = kPad + title_height(p.title, p.width - 2 * kPad);
  const double top = f.legend_y + legend_h + 8 + (n > kManyRows ? kTickSize + 8 : 0);
  const double bottom = kPad + kTickLength + 3 + kTickSize + 6 + (p.value_label.empty() ? 0 : kAxisLabelGap);
  const double bar = p.value_labels ? 10 : (m == 1 ? 12 : 8);
  const double row = std::max(18.0, m * bar + 7);
  f.height = p.height > 0 ? p.height : top + std::max(n, 1.0) * row + bottom;
  f.plot = {left, top, std::max(40.0, f.width - left - right), std::max(20.0, f.height - top - bottom)};
  const auto [lo, hi] = value_range(p);
  f.vt = fitted_ticks(lo, hi, f.plot.w, true, false, f.vl);
  return f;
}

// Columns: names rotated under the plot; the picture widens when many columns need room.
Frame vertical_frame(const BarPlot& p, double legend_h) {
  Frame f;
  const double n = static_cast<double>(std::max<size_t>(p.categories.size(), 1));
  const double m = static_cast<double>(std::max<size_t>(p.series.size(), 1));
  f.names = fitted_names(p, 170);
  f.legend_y = kPad + title_height(p.title, p.width - 2 * kPad);
  const double top = f.legend_y + legend_h + 8 + widest_value_label(p);
  const double bottom = kPad + 10 + max_label_width(f.names) * 0.72 + kTickSize;
  const double plot_h = p.height > 0 ? std::max(40.0, p.height - top - bottom) : kColumnPlotHeight;
  const auto [lo, hi] = value_range(p);
  f.vt = linear_ticks(lo, hi, std::clamp(static_cast<int>(plot_h / 42) + 1, 3, 10), true);
  f.vl = format_ticks(f.vt.values, f.vt.step, false);
  const double left = kPad + (p.value_label.empty() ? 0 : kAxisLabelGap) + max_label_width(f.vl) + kTickLength + 5;
  const double min_group = m * (p.value_labels ? 13 : 10) + 8;
  const double plot_w = std::max(p.width - left - kPad, n * min_group);
  f.width = left + plot_w + kPad;
  f.height = top + plot_h + bottom;
  f.plot = {left, top, plot_w, plot_h};
  return f;
}

void draw_bar_label(SvgDoc& doc, double x, double y, double v, bool vertical) {
  TextStyle st{kValueSize, "start", kMutedText};
  if (vertical) st.rotate = -90;
  doc.text(x, y, format_compact(v), st);
}

void draw_rows(SvgDoc& doc, const BarPlot& p, const Frame& f) {
  const Rect& r = f.plot;
  const Scale vs(f.vt.lo, f.vt.hi, r.x, r.right());
  const double n = static_cast<double>(std::max<size_t>(p.categories.size(), 1));
  const double row = r.h / n;
  const double m = static_cast<double>(std::max<size_t>(p.series.size(), 1));
  const double bar = std::min(row * 0.8 / m, 18.0);
  for (size_t c = 0; c < p.categories.size(); ++c) {
    const double y0 = r.y + c * row;
    if (c % 2 == 1) doc.rect(r.x, y0, r.w, row, "#f4f4f4");  // bands lead the eye from name to bar
  }
  draw_x_grid(doc, r, vs, f.vt.values, f.vl, n > kManyRows);
  for (size_t c = 0; c < p.categories.size(); ++c) {
    const double mid = r.y + (c + 0.5) * row;
    doc.text(r.x - 8, mid + kTickSize * 0.35, f.names[c], {kTickSize, "end", kTextColor},
             f.names[c] != p.categories[c] ? p.categories[c] : std::string());
    const double first = mid - bar * m / 2;
    for (size_t s = 0; s < p.series.size(); ++s) {
      const double v = p.series[s].values[c];
      if (!std::isfinite(v)) continue;
      const double a = vs(0), b = vs(v);
      const std::string& color = p.series[s].color.empty() ? palette_color(s) : p.series[s].color;
      doc.rect(std::min(a, b), first + s * bar, std::fabs(b - a), bar - 1, color);
      if (p.value_labels) draw_bar_label(doc, std::max(a, b) + 3, first + s * bar + bar * 0.5 + kValueSize * 0.33, v, false);
    }
  }
  doc.line(vs(0), r.y, vs(0), r.bottom(), {kAxisColor, 1});
  draw_x_label(doc, r, p.value_label, r.bottom() + kTickLength + 3 + kTickSize + 6 + kAxisLabelSize + 4);
}

void draw_columns(SvgDoc& doc, const BarPlot& p, const Frame& f) {
  const Rect& r = f.plot;
  const Scale vs(f.vt.lo, f.vt.hi, r.bottom(), r.y);
  const double n = static_cast<double>(std::max<size_t>(p.categories.size(), 1));
  const double group = r.w / n;
  const double m = static_cast<double>(std::max<size_t>(p.series.size(), 1));
  const double bar = std::min(group * 0.8 / m, 28.0);
  draw_y_grid(doc, r, vs, f.vt.values, f.vl);
  for (size_t c = 0; c < p.categories.size(); ++c) {
    const double mid = r.x + (c + 0.5) * group;
    doc.text(mid + 3, r.bottom() + 12, f.names[c], {kTickSize, "end", kTextColor, false, -45},
             f.names[c] != p.categories[c] ? p.categories[c] : std::string());
    const double first = mid - bar * m / 2;
    for (size_t s = 0; s < p.series.size(); ++s) {
      const double v = p.series[s].values[c];
      if (!std::isfinite(v)) continue;
      const double a = vs(0), b = vs(v);
      const std::string& color = p.series[s].color.empty() ? palette_color(s) : p.series[s].color;
      doc.rect(first + s * bar, std::min(a, b), bar - 1, std::fabs(b - a), color);
      if (p.value_labels) draw_bar_label(doc, first + s * bar + bar * 0.5 + kValueSize * 0.33, std::min(a, b) - 3, v, true);
    }
  }
  doc.line(r.x, vs(0), r.right(), vs(0), {kAxisColor, 1});
  draw_y_label(doc, r, p.value_label, kPad + kAxisLabelSize);
}

}  // namespace

std::string bar_plot(const BarPlot& p) {
  check(p);
  const std::vector<LegendEntry> legend = legend_of(p);
  const double legend_h = legend_height(legend, p.width - 2 * kPad);
  const Frame f = p.horizontal ? horizontal_frame(p, legend_h) : vertical_frame(p, legend_h);
  SvgDoc doc(f.width, f.height);
  draw_title(doc, p.title, kPad, kPad, p.width - 2 * kPad);
  draw_legend(doc, legend, kPad, f.legend_y, f.width - 2 * kPad);
  if (p.horizontal) {
    draw_rows(doc, p, f);
  } else {
    draw_columns(doc, p, f);
  }
  if (p.categories.empty()) {
    doc.text(f.plot.x + f.plot.w / 2, f.plot.y + f.plot.h / 2, "no data", {kAxisLabelSize, "middle", kMutedText});
  }
  return doc.finish();
}

}  // namespace mt::tools
