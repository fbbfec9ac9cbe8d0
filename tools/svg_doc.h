#pragma once
// A minimal SVG 1.1 writer: the few elements the plots draw, every piece of user text escaped,
// every coordinate finite. The plot code decides layout; this only spells the XML.
#include <string>
#include <string_view>

namespace mt::tools {

// Text safe inside XML character data and attribute values: & < > " ' become entities and the
// control characters XML 1.0 forbids are dropped.
std::string escape_xml(std::string_view text);

// Estimated rendered width in px of `text` at `font_px` in a sans-serif font. There are no font
// metrics here, so it errs wide (DejaVu Sans, the usual Linux fallback, is wider than Arial).
double text_width(std::string_view text, double font_px);

// A number for an SVG attribute: one decimal at most; NaN and infinities become 0 so the file
// never contains "nan" or "inf".
std::string svg_num(double v);

struct TextStyle {
  double size = 12;
  std::string_view anchor = "start";  // start | middle | end
  std::string_view fill = "#222222";
  bool bold = false;
  double rotate = 0;  // degrees, about the anchor point
};

struct StrokeStyle {
  std::string_view color = "#222222";
  double width = 1;
  std::string_view dash = {};  // e.g. "6 4"; empty = solid
  double opacity = 1;
};

class SvgDoc {
 public:
  SvgDoc(double width, double height);

  void rect(double x, double y, double w, double h, std::string_view fill, double opacity = 1);
  void line(double x1, double y1, double x2, double y2, const StrokeStyle& s);
  // `d` is path data built with svg_num (so it is already safe).
  void path(const std::string& d, const StrokeStyle& s);
  void circle(double cx, double cy, double r, std::string_view fill);
  // `tooltip` (optional) becomes a <title> child: browsers show it on hover, e.g. a full layer
  // name that the label had to shorten.
  void text(double x, double y, std::string_view content, const TextStyle& s,
            std::string_view tooltip = {});

  // A clip rectangle that later open_group(clip_id) calls can use.
  void clip_rect(std::string_view id, double x, double y, double w, double h);
  void open_group(std::string_view clip_id = {});
  void close_group();

  // The whole document, with the XML declaration and the closed root element.
  std::string finish();

 private:
  std::string out_;
  int open_groups_ = 0;
};

}  // namespace mt::tools
