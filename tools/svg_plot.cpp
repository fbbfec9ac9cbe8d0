// Shared pieces of the plots: palette, thinning, the writer.
#include "tools/svg_plot.h"

#include <array>
#include <cmath>

#include "core/atomic_file.h"

namespace mt::tools {

const std::string& palette_color(size_t i) {
  // Okabe & Ito (2008), reordered: the darkest, most distinct colours first; yellow (hard to see
  // on white) last.
  static const std::array<std::string, 8> kPalette = {
      "#0072B2",  // blue
      "#D55E00",  // vermillion
      "#009E73",  // bluish green
      "#CC79A7",  // reddish purple
      "#E69F00",  // orange
      "#56B4E9",  // sky blue
      "#000000",  // black
      "#F0E442",  // yellow
  };
  return kPalette[i % kPalette.size()];
}

namespace {

// One bucket of the thinning: within each run of finite values, its min and max in index order;
// a NaN closes the run and is kept once so the gap survives.
void thin_bucket(const std::vector<double>& x, const std::vector<double>& y, size_t begin,
                 size_t end, Points& out) {
  size_t lo = end, hi = end;  // indices of the run's min and max; `end` = no run open
  bool last_nan = false;
  auto flush = [&] {
    if (lo == end) return;
    const size_t a = std::min(lo, hi), b = std::max(lo, hi);
    out.x.push_back(x[a]);
    out.y.push_back(y[a]);
    if (b != a) {
      out.x.push_back(x[b]);
      out.y.push_back(y[b]);
    }
    lo = hi = end;
  };
  for (size_t i = begin; i < end; ++i) {
    if (std::isnan(y[i])) {
      flush();
      if (!last_nan) {
        out.x.push_back(x[i]);
        out.y.push_back(y[i]);
      }
      last_nan = true;
      continue;
    }
    last_nan = false;
    if (lo == end) {
      lo = hi = i;
      continue;
    }
    if (y[i] < y[lo]) lo = i;
    if (y[i] > y[hi]) hi = i;
  }
  flush();
}

}  // namespace

Points downsample_min_max(const std::vector<double>& x, const std::vector<double>& y,
                          size_t max_points) {
  const size_t n = std::min(x.size(), y.size());
  if (n <= max_points || max_points < 4) {
    return {std::vector<double>(x.begin(), x.begin() + n), std::vector<double>(y.begin(), y.begin() + n)};
  }
  // The first and last points are kept as they are (the x range must not shrink); the points
  // between go into buckets of about equal size, each keeping up to two.
  const size_t buckets = (max_points - 2) / 2;
  Points out;
  out.x.reserve(max_points + 16);
  out.y.reserve(max_points + 16);
  out.x.push_back(x[0]);
  out.y.push_back(y[0]);
  const size_t inner = n - 2;
  for (size_t b = 0; b < buckets; ++b) {
    thin_bucket(x, y, 1 + b * inner / buckets, 1 + (b + 1) * inner / buckets, out);
  }
  out.x.push_back(x[n - 1]);
  out.y.push_back(y[n - 1]);
  return out;
}

void write_svg(const std::string& path, const std::string& svg) {
  write_file_atomically(path, svg);
}

}  // namespace mt::tools
