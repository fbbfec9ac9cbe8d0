#pragma once
// What line and bar plots share: the plot rectangle, data-to-pixel scales, title, legend, grid and
// tick labels, and the house look (sizes, greys). Internal to tools/svg_plot.
#include <string>
#include <vector>

#include "tools/plot_axes.h"
#include "tools/svg_doc.h"

namespace mt::tools::plot {

inline constexpr double kTitleSize = 16;
inline constexpr double kAxisLabelSize = 13;
inline constexpr double kTickSize = 11;
inline constexpr double kLegendSize = 12;
inline constexpr double kPad = 14;           // outer margin of the picture
inline constexpr double kTitleHeight = 26;   // a one-line title including the space under it
inline constexpr double kTitleLine = 20;     // each further line of a wrapped title
inline constexpr double kLegendRow = 20;     // one row of legend entries
inline constexpr double kTickLength = 5;
inline constexpr double kAxisLabelGap = 24;  // room for an axis name beside its tick labels
inline constexpr const char* kTextColor = "#222222";
inline constexpr const char* kMutedText = "#555555";
inline constexpr const char* kGridColor = "#e3e3e3";
inline constexpr const char* kAxisColor = "#666666";

struct Rect {
  double x = 0, y = 0, w = 0, h = 0;
  double right() const { return x + w; }
  double bottom() const { return y + h; }
};

// Maps data values on [d0, d1] to pixels on [p0, p1] (p1 < p0 for y, which grows downwards).
class Scale {
 public:
  Scale(double d0, double d1, double p0, double p1, bool log = false);
  // NaN for values the axis cannot place (NaN, or <= 0 on a log axis).
  double operator()(double v) const;

 private:
  double d0_, d1_, p0_, p1_;
  bool log_;
};

struct LegendEntry {
  std::string label = {};
  std::string color = {};
  bool dashed = false;
  bool box = false;  // a filled square (bars) instead of a line sample
};

// Height the legend takes when wrapped into rows of at most `width` px (0 without entries).
double legend_height(const std::vector<LegendEntry>& entries, double width);
// Draws the legend from (x, y) (top-left), wrapping rows at `width`.
void draw_legend(SvgDoc& doc, const std::vector<LegendEntry>& entries, double x, double y,
                 double width);

// A title wraps at spaces onto at most two lines of `width` px (then ends with an ellipsis).
double title_height(const std::string& title, double width);
void draw_title(SvgDoc& doc, const std::string& title, double x, double y, double width);

// Widest of `labels` at the tick font size.
double max_label_width(const std::vector<std::string>& labels, double size = kTickSize);

// Ticks for a horizontal axis `plot_w` px long: as many as fit with their labels (written to
// `labels`) side by side, 3 to 10 of them. Arguments as for linear_ticks().
Ticks fitted_ticks(double lo, double hi, double plot_w, bool extend, bool integer_only,
                   std::vector<std::string>& labels);

// Horizontal gridlines at `ticks` with labels left of the plot (a value axis drawn upright).
void draw_y_grid(SvgDoc& doc, const Rect& r, const Scale& y, const std::vector<double>& ticks,
                 const std::vector<std::string>& labels);
// Vertical gridlines at `ticks` with labels under the plot (and above it too when `also_top`).
void draw_x_grid(SvgDoc& doc, const Rect& r, const Scale& x, const std::vector<double>& ticks,
                 const std::vector<std::string>& labels, bool also_top = false);

// Axis names: centred under the plot / rotated left of it at distance `offset`.
void draw_x_label(SvgDoc& doc, const Rect& r, const std::string& label, double y);
void draw_y_label(SvgDoc& doc, const Rect& r, const std::string& label, double x);

// `text` shortened in the middle with an ellipsis to fit `max_width` px at `size`
// ("layer3.2.conv1" keeps its start and its end, the parts that tell layers apart).
std::string fit_text(const std::string& text, double max_width, double size);

}  // namespace mt::tools::plot
