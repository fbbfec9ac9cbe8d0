#pragma once
// Plots for run reports, written as self-contained SVG 1.1 (no plotting dependency): line plots of
// training curves and grouped bar charts of per-layer widths. Readability comes first: nice ticks,
// compact labels, light grid, a legend above the plot (never over the data), a colour-blind-safe
// palette (Okabe-Ito).
#include <optional>
#include <string>
#include <vector>

namespace mt::tools {

struct Series {
  std::string label = {};
  std::vector<double> x = {}, y = {};  // x empty: the points are numbered 0, 1, 2, ...
  std::string color = {};  // any SVG colour; empty: this series' colour of the default palette
  bool dashed = false;
};

// A horizontal line across the plot, e.g. a budget: {40.5e6, "target 50%"}.
struct ReferenceLine {
  double y = 0;
  std::string label = {};
  std::string color = "#555555";
  bool dashed = true;
};

struct LinePlot {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  std::vector<ReferenceLine> reference_lines;
  std::optional<double> y_min, y_max;  // fixed ends; unset: from the data and reference lines
  bool log_y = false;                  // values <= 0 are then left out (they break the line)
  bool y_percent = false;              // y values are fractions: tick labels read 0.5 -> "50%"
  int width = 720, height = 420;
};

// A NaN x or y (and, on a log axis, y <= 0) breaks a line; a point with no neighbour is drawn as a
// dot, and series of at most 40 points get a dot at each. Series longer than kMaxDrawnPoints are
// thinned keeping each bucket's min and max (buckets by index: x should ascend). Reference-line
// labels go where they cover the least data.
// Throws DataError when a series has x and y of different lengths.
std::string line_plot(const LinePlot& p);

struct BarSeries {
  std::string label = {};           // e.g. "before", "after"
  std::vector<double> values = {};  // one per category; NaN: no bar
  std::string color = {};           // empty: the default palette
};

struct BarPlot {
  std::string title;
  std::string value_label;              // the value axis, e.g. "output channels"
  std::vector<std::string> categories;  // e.g. layer names, drawn in this order
  std::vector<BarSeries> series;
  bool horizontal = true;               // names at the left, bars to the right (reads best with
                                        // many long names); false: columns, names rotated
  bool value_labels = false;            // write each bar's value at its end
  int width = 720;
  int height = 0;                       // 0: from the number of categories
};

// Throws DataError when a series has not one value per category.
std::string bar_plot(const BarPlot& p);

// Writes `svg` to `path` atomically (whole or not at all); throws IoError.
void write_svg(const std::string& path, const std::string& svg);

// --- building blocks, public for tests ---------------------------------------------------

// Above this many points a series is thinned before drawing.
inline constexpr size_t kMaxDrawnPoints = 2000;

// The i-th colour of the default palette (Okabe-Ito, ordered for contrast on white; cycles).
const std::string& palette_color(size_t i);

struct Points {
  std::vector<double> x, y;
};
// Thins (x, y) to about `max_points` by splitting it into equal index buckets and keeping, per
// bucket, the minimum and the maximum of y in their original order, so spikes stay visible.
// NaN values are kept (one per run of them) so gaps survive. Shorter input is returned as is.
Points downsample_min_max(const std::vector<double>& x, const std::vector<double>& y,
                          size_t max_points = kMaxDrawnPoints);

}  // namespace mt::tools
