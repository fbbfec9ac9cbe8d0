// line_plot(): training curves (cost, loss, accuracy) against steps or epochs.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "core/error.h"
#include "tools/plot_frame.h"
#include "tools/svg_plot.h"

namespace mt::tools {
namespace {
using namespace plot;

constexpr size_t kMarkerMaxPoints = 40;  // a series this short gets a dot at every point
constexpr double kLineWidth = 2;
constexpr double kRightMargin = 26;      // room for half of the last x tick label

struct Prepared {
  Points pts;
  std::string color;
  bool dashed = false;
  size_t n_original = 0;
};

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
};

std::vector<Prepared> prepare(const LinePlot& p) {
  std::vector<Prepared> out;
  for (size_t i = 0; i < p.series.size(); ++i) {
    const Series& s = p.series[i];
    MT_CHECK(s.x.empty() || s.x.size() == s.y.size(), DataError, "[line_plot] series '", s.label,
             "' has ", s.x.size(), " x values but ", s.y.size(), " y values");
    std::vector<double> x = s.x;
    if (x.empty()) {
      for (size_t k = 0; k < s.y.size(); ++k) x.push_back(static_cast<double>(k));
    }
    out.push_back({downsample_min_max(x, s.y), s.color.empty() ? palette_color(i) : s.color,
                   s.dashed, s.y.size()});
  }
  return out;
}

bool drawable(double x, double y, bool log_y) {
  return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0);
}

struct Layout {
  Rect plot;
  double legend_y = 0;
  double head_w = 0;  // width the title and legend were wrapped to
  Ticks xt, yt;
  std::vector<std::string> xl, yl;
};

Ticks y_ticks(const LinePlot& p, const std::vector<Prepared>& series, int max_ticks) {
  Range r;
  for (const auto& s : series) {
    for (size_t k = 0; k < s.pts.y.size(); ++k) {
      if (drawable(s.pts.x[k], s.pts.y[k], p.log_y)) r.add(s.pts.y[k]);
    }
  }
  for (const auto& ref : p.reference_lines) {
    if (std::isfinite(ref.y) && (!p.log_y || ref.y > 0)) r.add(ref.y);
  }
  if (p.y_min) r.lo = *p.y_min;
  if (p.y_max) r.hi = *p.y_max;
  Ticks t = p.log_y ? log_ticks(r.lo, r.hi, max_ticks) : linear_ticks(r.lo, r.hi, max_ticks, true);
  // Data lying on a free end of the axis would be drawn on the frame: one more step there (not
  // past 0, nor past 0% / 100% of a percent axis, which are natural ends).
  const double near = (t.hi - t.lo) * 0.01;
  if (!p.log_y && !p.y_max && t.hi != 0 && !(p.y_percent && t.hi == 1) && r.hi >= t.hi - near) {
    t.hi += t.step;
    t.values.push_back(t.hi);
  }
  if (!p.log_y && !p.y_min && t.lo != 0 && !(p.y_percent && t.lo == 0) && r.lo <= t.lo + near) {
    t.lo -= t.step;
    t.values.insert(t.values.begin(), t.lo);
  }
  // Fixed ends are kept exactly (as long as they leave a range to draw).
  if (p.y_min && std::isfinite(*p.y_min) && *p.y_min < t.hi && (!p.log_y || *p.y_min > 0)) t.lo = *p.y_min;
  if (p.y_max && std::isfinite(*p.y_max) && *p.y_max > t.lo) t.hi = *p.y_max;
  const double tol = (t.hi - t.lo) * 1e-9;
  std::erase_if(t.values, [&](double v) { return v < t.lo - tol || v > t.hi + tol; });
  return t;
}

Ticks x_ticks(const std::vector<Prepared>& series, double plot_w, std::vector<std::string>& labels) {
  Range r;
  bool integers = true;
  for (const auto& s : series) {
    for (double x : s.pts.x) {
      if (!std::isfinite(x)) continue;
      r.add(x);
      integers = integers && x == std::round(x);
    }
  }
  return fitted_ticks(r.lo, r.hi, plot_w, false, integers, labels);
}

Layout compute_layout(const LinePlot& p, const std::vector<Prepared>& series,
                      const std::vector<LegendEntry>& legend) {
  Layout L;
  const double bottom = kPad + kTickLength + 3 + kTickSize + 6 + (p.x_label.empty() ? 0 : kAxisLabelGap);
  // The legend's width depends on the left margin, which depends on the y labels, which depend
  // on the plot height, which depends on the legend: a few passes settle it.
  double left = 70;
  for (int pass = 0; pass < 3; ++pass) {
    L.head_w = p.width - left - kPad;
    const double top = kPad + title_height(p.title, L.head_w);
    L.legend_y = top;
    const double lh = legend_height(legend, L.head_w);
    const double plot_top = top + lh + (lh > 0 ? 10 : 4);
    const double plot_h = std::max(40.0, p.height - plot_top - bottom);
    // Log labels (1, 2, 5, 10, ...) are short and their spacing uneven: allow them denser.
    const double spacing = p.log_y ? 30 : 42;
    L.yt = y_ticks(p, series, std::clamp(static_cast<int>(plot_h / spacing) + 1, 3, p.log_y ? 12 : 10));
    L.yl = format_ticks(L.yt.values, L.yt.step, p.y_percent);
    left = kPad + (p.y_label.empty() ? 0 : kAxisLabelGap) + max_label_width(L.yl) + kTickLength + 5;
    L.plot = {left, plot_top, std::max(40.0, p.width - left - kRightMargin), plot_h};
  }
  L.xt = x_ticks(series, L.plot.w, L.xl);
  return L;
}

std::string clip_id(const LinePlot& p) {
  // Several plots may be inlined into one HTML page: ids must differ between them.
  std::string key = p.title + "|" + p.y_label + "|" + std::to_string(p.series.size());
  for (const auto& s : p.series) key += "|" + s.label;
  return "mt-clip-" + std::to_string(std::hash<std::string>{}(key) % 1000000007ULL);
}

// The series' path (NaN breaks it) and the points that have no neighbour, drawn as dots.
void draw_series(SvgDoc& doc, const Prepared& s, const Scale& xs, const Scale& ys, bool log_y) {
  const bool markers = s.n_original <= kMarkerMaxPoints;
  std::string d;
  std::vector<std::pair<double, double>> dots;
  size_t run = 0;  // points in the current unbroken piece
  double px_prev = 0, py_prev = 0;
  for (size_t k = 0; k < s.pts.x.size(); ++k) {
    const double px = xs(s.pts.x[k]), py = ys(s.pts.y[k]);
    if (!drawable(s.pts.x[k], s.pts.y[k], log_y) || !std::isfinite(px) || !std::isfinite(py)) {
      if (run == 1 && !markers) dots.emplace_back(px_prev, py_prev);
      run = 0;
      continue;
    }
    d += (run == 0 ? (d.empty() ? "M" : " M") : " L") + svg_num(px) + " " + svg_num(py);
    if (markers) dots.emplace_back(px, py);
    ++run;
    px_prev = px;
    py_prev = py;
  }
  if (run == 1 && !markers) dots.emplace_back(px_prev, py_prev);
  doc.path(d, {s.color, kLineWidth, s.dashed ? "7 4" : ""});
  const double r = markers ? 3 : 2.5;
  for (const auto& [x, y] : dots) doc.circle(x, y, r, s.color);
}

void draw_reference_line(SvgDoc& doc, const Rect& r, const Scale& ys, const ReferenceLine& ref) {
  const double py = ys(ref.y);
  if (!std::isfinite(py) || py < r.y - 0.5 || py > r.bottom() + 0.5) return;
  doc.line(r.x, py, r.right(), py, {ref.color, 1.5, ref.dashed ? "6 4" : ""});
}

// How much of the drawn data falls into a box: points along every segment, sampled.
int data_in_box(const std::vector<Prepared>& series, const Scale& xs, const Scale& ys, bool log_y,
                const Rect& box) {
  const auto inside = [&](double x, double y) {
    return x >= box.x && x <= box.right() && y >= box.y && y <= box.bottom();
  };
  int hits = 0;
  for (const auto& s : series) {
    double x0 = NAN, y0 = NAN;
    for (size_t k = 0; k < s.pts.x.size(); ++k) {
      const double x1 = xs(s.pts.x[k]), y1 = ys(s.pts.y[k]);
      const bool ok = drawable(s.pts.x[k], s.pts.y[k], log_y) && std::isfinite(x1) && std::isfinite(y1);
      if (ok && std::isfinite(x0)) {
        for (double t : {0.0, 0.2, 0.4, 0.6, 0.8}) hits += inside(x0 + t * (x1 - x0), y0 + t * (y1 - y0));
      }
      if (ok && inside(x1, y1)) ++hits;
      x0 = ok ? x1 : NAN;
      y0 = ok ? y1 : NAN;
    }
  }
  return hits;
}

// The label goes just above or below its line, at the right or the left end: wherever it
// covers the least data (a cost curve usually converges onto its target at the right).
void draw_reference_label(SvgDoc& doc, const Rect& r, const Scale& xs, const Scale& ys, bool log_y,
                          const ReferenceLine& ref, const std::vector<Prepared>& series) {
  const double py = ys(ref.y);
  if (ref.label.empty() || !std::isfinite(py) || py < r.y - 0.5 || py > r.bottom() + 0.5) return;
  const double size = kTickSize + 1;
  const double w = text_width(ref.label, size) + 6, h = size * 1.2;
  Rect best;
  int best_hits = -1;
  for (bool right : {true, false}) {
    for (bool above : {true, false}) {
      const Rect box{right ? r.right() - 6 - w : r.x + 6, above ? py - 3 - h : py + 3, w, h};
      if (box.y < r.y || box.bottom() > r.bottom()) continue;  // it would leave the plot
      // A margin around the box: a line's stroke passing just outside still touches the text.
      const Rect margin{box.x - 2, box.y - 4, box.w + 4, box.h + 8};
      const int hits = data_in_box(series, xs, ys, log_y, margin);
      if (best_hits < 0 || hits < best_hits) best = box, best_hits = hits;
    }
  }
  if (best_hits < 0) best = {r.right() - 6 - w, py - 3 - h, w, h};  // a very flat plot
  doc.rect(best.x, best.y, best.w, best.h, "#ffffff", 0.85);
  doc.text(best.x + 3, best.bottom() - size * 0.3, ref.label, {size, "start", ref.color});
}

}  // namespace

std::string line_plot(const LinePlot& p) {
  const std::vector<Prepared> series = prepare(p);
  std::vector<LegendEntry> legend;
  for (size_t i = 0; i < series.size(); ++i) {
    if (!p.series[i].label.empty()) legend.push_back({p.series[i].label, series[i].color, series[i].dashed});
  }
  const Layout L = compute_layout(p, series, legend);
  const Rect& r = L.plot;
  const Scale xs(L.xt.lo, L.xt.hi, r.x, r.right());
  const Scale ys(L.yt.lo, L.yt.hi, r.bottom(), r.y, p.log_y);

  SvgDoc doc(p.width, p.height);
  // Left-aligned with the plot (the x the wrapping assumed, should the passes not have settled).
  draw_title(doc, p.title, p.width - kPad - L.head_w, kPad, L.head_w);
  draw_legend(doc, legend, p.width - kPad - L.head_w, L.legend_y, L.head_w);
  draw_y_grid(doc, r, ys, L.yt.values, L.yl);
  draw_x_grid(doc, r, xs, L.xt.values, L.xl);
  for (const auto& ref : p.reference_lines) draw_reference_line(doc, r, ys, ref);

  const std::string clip = clip_id(p);
  doc.clip_rect(clip, r.x - 4, r.y - 4, r.w + 8, r.h + 8);  // a dot on the edge stays round
  doc.open_group(clip);
  for (const auto& s : series) draw_series(doc, s, xs, ys, p.log_y);
  doc.close_group();

  doc.line(r.x, r.y, r.x, r.bottom(), {kAxisColor, 1});
  doc.line(r.x, r.bottom(), r.right(), r.bottom(), {kAxisColor, 1});
  for (const auto& ref : p.reference_lines) draw_reference_label(doc, r, xs, ys, p.log_y, ref, series);
  bool any = false;
  for (const auto& s : series) {
    for (size_t k = 0; k < s.pts.x.size() && !any; ++k) any = drawable(s.pts.x[k], s.pts.y[k], p.log_y);
  }
  if (!any) doc.text(r.x + r.w / 2, r.y + r.h / 2, "no data", {kAxisLabelSize, "middle", kMutedText});

  draw_x_label(doc, r, p.x_label, r.bottom() + kTickLength + 3 + kTickSize + 6 + kAxisLabelSize + 4);
  draw_y_label(doc, r, p.y_label, kPad + kAxisLabelSize);
  return doc.finish();
}

}  // namespace mt::tools
