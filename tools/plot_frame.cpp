#include "tools/plot_frame.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mt::tools::plot {
namespace {

constexpr double kSwatchLine = 26;  // length of a legend's line sample
constexpr double kSwatchBox = 12;
constexpr double kSwatchGap = 6;    // between sample and label
constexpr double kEntryGap = 20;    // between entries

double entry_width(const LegendEntry& e) {
  return (e.box ? kSwatchBox : kSwatchLine) + kSwatchGap + text_width(e.label, kLegendSize);
}

// Starts of the rows: entry indices where a new row begins.
std::vector<size_t> legend_rows(const std::vector<LegendEntry>& entries, double width) {
  std::vector<size_t> starts;
  double used = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const double w = entry_width(entries[i]);
    if (starts.empty() || used + kEntryGap + w > width) {
      starts.push_back(i);
      used = w;
    } else {
      used += kEntryGap + w;
    }
  }
  return starts;
}

bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

constexpr size_t kMaxTitleLines = 2;

// Greedy word wrap of the title in bold (DejaVu Sans Bold runs ~8% wider than its regular face).
std::vector<std::string> title_lines(const std::string& title, double width) {
  const auto fits = [&](const std::string& s) { return text_width(s, kTitleSize) * 1.08 <= width; };
  std::vector<std::string> lines;
  std::string line, word;
  std::vector<std::string> words;
  for (size_t i = 0; i <= title.size(); ++i) {
    if (i == title.size() || title[i] == ' ') {
      if (!word.empty()) words.push_back(word);
      word.clear();
    } else {
      word += title[i];
    }
  }
  for (size_t w = 0; w < words.size(); ++w) {
    const std::string joined = line.empty() ? words[w] : line + " " + words[w];
    if (fits(joined) || line.empty()) {
      line = joined;
      continue;
    }
    lines.push_back(line);
    if (lines.size() == kMaxTitleLines - 1) {
      // The last line takes the rest, shortened at its end.
      for (line = words[w++]; w < words.size(); ++w) line += " " + words[w];
      static const std::string kEllipsis = "\xE2\x80\xA6";
      if (!fits(line)) {
        while (!line.empty() && !fits(line + kEllipsis)) {
          do line.pop_back(); while (!line.empty() && is_utf8_continuation(line.back()));
        }
        line += kEllipsis;
      }
      break;
    }
    line = words[w];
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

}  // namespace

Scale::Scale(double d0, double d1, double p0, double p1, bool log)
    : d0_(log ? std::log10(d0) : d0), d1_(log ? std::log10(d1) : d1), p0_(p0), p1_(p1), log_(log) {}

double Scale::operator()(double v) const {
  if (std::isnan(v) || (log_ && v <= 0)) return std::numeric_limits<double>::quiet_NaN();
  const double d = log_ ? std::log10(v) : v;
  // A zero-width domain would divide by zero: put everything in the middle.
  if (!(d1_ != d0_) || !std::isfinite(d1_ - d0_)) return (p0_ + p1_) / 2;
  return p0_ + (d - d0_) / (d1_ - d0_) * (p1_ - p0_);
}

double legend_height(const std::vector<LegendEntry>& entries, double width) {
  return static_cast<double>(legend_rows(entries, width).size()) * kLegendRow;
}

void draw_legend(SvgDoc& doc, const std::vector<LegendEntry>& entries, double x, double y,
                 double width) {
  const std::vector<size_t> starts = legend_rows(entries, width);
  for (size_t r = 0; r < starts.size(); ++r) {
    const size_t end = r + 1 < starts.size() ? starts[r + 1] : entries.size();
    const double mid = y + r * kLegendRow + kLegendRow / 2;
    double cx = x;
    for (size_t i = starts[r]; i < end; ++i) {
      const LegendEntry& e = entries[i];
      if (e.box) {
        doc.rect(cx, mid - kSwatchBox / 2, kSwatchBox, kSwatchBox, e.color);
        cx += kSwatchBox;
      } else {
        doc.line(cx, mid, cx + kSwatchLine, mid, {e.color, 2.5, e.dashed ? "6 4" : ""});
        cx += kSwatchLine;
      }
      cx += kSwatchGap;
      doc.text(cx, mid + kLegendSize * 0.35, e.label, {kLegendSize, "start", kTextColor});
      cx += text_width(e.label, kLegendSize) + kEntryGap;
    }
  }
}

double title_height(const std::string& title, double width) {
  if (title.empty()) return 0;
  return kTitleHeight + (static_cast<double>(title_lines(title, width).size()) - 1) * kTitleLine;
}

void draw_title(SvgDoc& doc, const std::string& title, double x, double y, double width) {
  const std::vector<std::string> lines = title_lines(title, width);
  for (size_t i = 0; i < lines.size(); ++i) {
    doc.text(x, y + kTitleSize + i * kTitleLine, lines[i], {kTitleSize, "start", kTextColor, true},
             i == 0 && lines.size() > 1 ? title : std::string());
  }
}

double max_label_width(const std::vector<std::string>& labels, double size) {
  double w = 0;
  for (const auto& l : labels) w = std::max(w, text_width(l, size));
  return w;
}

Ticks fitted_ticks(double lo, double hi, double plot_w, bool extend, bool integer_only,
                   std::vector<std::string>& labels) {
  for (int max_ticks = std::clamp(static_cast<int>(plot_w / 80), 3, 10);; --max_ticks) {
    Ticks t = linear_ticks(lo, hi, max_ticks, extend, integer_only);
    labels = format_ticks(t.values, t.step, false);
    const double spacing = t.hi > t.lo ? plot_w * t.step / (t.hi - t.lo) : plot_w;
    if (max_ticks <= 2 || max_label_width(labels) + 14 < spacing) return t;
  }
}

void draw_y_grid(SvgDoc& doc, const Rect& r, const Scale& y, const std::vector<double>& ticks,
                 const std::vector<std::string>& labels) {
  for (size_t i = 0; i < ticks.size(); ++i) {
    const double py = y(ticks[i]);
    if (!std::isfinite(py) || py < r.y - 0.5 || py > r.bottom() + 0.5) continue;
    doc.line(r.x, py, r.right(), py, {kGridColor, 1});
    doc.line(r.x - kTickLength, py, r.x, py, {kAxisColor, 1});
    if (i < labels.size()) {
      doc.text(r.x - kTickLength - 3, py + kTickSize * 0.35, labels[i],
               {kTickSize, "end", kMutedText});
    }
  }
}

void draw_x_grid(SvgDoc& doc, const Rect& r, const Scale& x, const std::vector<double>& ticks,
                 const std::vector<std::string>& labels, bool also_top) {
  for (size_t i = 0; i < ticks.size(); ++i) {
    const double px = x(ticks[i]);
    if (!std::isfinite(px) || px < r.x - 0.5 || px > r.right() + 0.5) continue;
    doc.line(px, r.y, px, r.bottom(), {kGridColor, 1});
    doc.line(px, r.bottom(), px, r.bottom() + kTickLength, {kAxisColor, 1});
    if (i >= labels.size()) continue;
    doc.text(px, r.bottom() + kTickLength + 3 + kTickSize, labels[i], {kTickSize, "middle", kMutedText});
    if (also_top) doc.text(px, r.y - 6, labels[i], {kTickSize, "middle", kMutedText});
  }
}

void draw_x_label(SvgDoc& doc, const Rect& r, const std::string& label, double y) {
  if (label.empty()) return;
  doc.text(r.x + r.w / 2, y, label, {kAxisLabelSize, "middle", kTextColor});
}

void draw_y_label(SvgDoc& doc, const Rect& r, const std::string& label, double x) {
  if (label.empty()) return;
  doc.text(x, r.y + r.h / 2, label, {kAxisLabelSize, "middle", kTextColor, false, -90});
}

std::string fit_text(const std::string& text, double max_width, double size) {
  if (text_width(text, size) <= max_width) return text;
  static const std::string kEllipsis = "\xE2\x80\xA6";  // U+2026
  // Drop characters from the middle until it fits, keeping slightly more of the end.
  size_t mid = text.size() / 2;
  while (mid > 0 && is_utf8_continuation(text[mid])) --mid;  // never split a character
  std::string head = text.substr(0, mid), tail = text.substr(mid);
  while (!head.empty() || !tail.empty()) {
    if (text_width(head + kEllipsis + tail, size) <= max_width) break;
    if (head.size() >= tail.size() && !head.empty()) {
      do head.pop_back(); while (!head.empty() && is_utf8_continuation(head.back()));
    } else {
      do tail.erase(0, 1); while (!tail.empty() && is_utf8_continuation(tail.front()));
    }
  }
  return head + kEllipsis + tail;
}

}  // namespace mt::tools::plot
