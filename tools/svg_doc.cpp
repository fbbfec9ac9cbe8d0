#include "tools/svg_doc.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace mt::tools {
namespace {

// Attribute helper: ` name="value"` with the value escaped.
std::string attr(std::string_view name, std::string_view value) {
  std::string s = " ";
  s.append(name);
  s += "=\"";
  s += escape_xml(value);
  s += '"';
  return s;
}

std::string attr(std::string_view name, double value) {
  return " " + std::string(name) + "=\"" + svg_num(value) + "\"";
}

// Opacities need two decimals; svg_num keeps one.
std::string opacity_num(double v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", std::isfinite(v) ? std::clamp(v, 0.0, 1.0) : 1.0);
  return buf;
}

std::string stroke_attrs(const StrokeStyle& s) {
  std::string a = attr("stroke", s.color) + attr("stroke-width", s.width);
  if (!s.dash.empty()) a += attr("stroke-dasharray", s.dash);
  if (s.opacity < 1) a += " stroke-opacity=\"" + opacity_num(s.opacity) + "\"";
  return a;
}

// Rough advance widths (em) of a sans-serif face, by character class.
double char_em(unsigned char c) {
  if (std::strchr("ijl.,:;'!|I", c)) return 0.30;
  if (std::strchr(" ftr()[]-/", c)) return 0.38;
  if (std::strchr("mwMW%@", c)) return 0.92;
  if (c >= 'A' && c <= 'Z') return 0.72;
  if (c >= '0' && c <= '9') return 0.64;
  return 0.62;
}

}  // namespace

std::string escape_xml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 allows no C0 control characters but tab, newline and carriage return.
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out += ch;
    }
  }
  return out;
}

double text_width(std::string_view text, double font_px) {
  double em = 0;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) == 0x80) continue;  // UTF-8 continuation byte: counted with its lead byte
    em += c >= 0x80 ? 0.7 : char_em(c);
  }
  return em * font_px;
}

std::string svg_num(double v) {
  if (!std::isfinite(v)) v = 0;
  // Far off-canvas values would only bloat the file (and some renderers choke on 1e300).
  v = std::clamp(v, -1e6, 1e6);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  std::string s = buf;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

SvgDoc::SvgDoc(double width, double height) {
  out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out_ += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\"" + attr("width", width) +
          attr("height", height) + " viewBox=\"0 0 " + svg_num(width) + " " + svg_num(height) +
          "\" font-family=\"sans-serif\">\n";
  rect(0, 0, width, height, "#ffffff");
}

void SvgDoc::rect(double x, double y, double w, double h, std::string_view fill, double opacity) {
  out_ += "<rect" + attr("x", x) + attr("y", y) + attr("width", std::max(w, 0.0)) +
          attr("height", std::max(h, 0.0)) + attr("fill", fill);
  if (opacity < 1) out_ += " fill-opacity=\"" + opacity_num(opacity) + "\"";
  out_ += "/>\n";
}

void SvgDoc::line(double x1, double y1, double x2, double y2, const StrokeStyle& s) {
  out_ += "<line" + attr("x1", x1) + attr("y1", y1) + attr("x2", x2) + attr("y2", y2) +
          stroke_attrs(s) + "/>\n";
}

void SvgDoc::path(const std::string& d, const StrokeStyle& s) {
  if (d.empty()) return;
  out_ += "<path" + attr("d", d) + " fill=\"none\"" + stroke_attrs(s) +
          " stroke-linejoin=\"round\" stroke-linecap=\"round\"/>\n";
}

void SvgDoc::circle(double cx, double cy, double r, std::string_view fill) {
  out_ += "<circle" + attr("cx", cx) + attr("cy", cy) + attr("r", r) + attr("fill", fill) + "/>\n";
}

void SvgDoc::text(double x, double y, std::string_view content, const TextStyle& s,
                  std::string_view tooltip) {
  out_ += "<text" + attr("x", x) + attr("y", y) + attr("font-size", s.size) +
          attr("text-anchor", s.anchor) + attr("fill", s.fill);
  if (s.bold) out_ += " font-weight=\"bold\"";
  if (s.rotate != 0) {
    out_ += " transform=\"rotate(" + svg_num(s.rotate) + " " + svg_num(x) + " " + svg_num(y) + ")\"";
  }
  out_ += ">";
  if (!tooltip.empty()) out_ += "<title>" + escape_xml(tooltip) + "</title>";
  out_ += escape_xml(content) + "</text>\n";
}

void SvgDoc::clip_rect(std::string_view id, double x, double y, double w, double h) {
  out_ += "<defs><clipPath" + attr("id", id) + "><rect" + attr("x", x) + attr("y", y) +
          attr("width", std::max(w, 0.0)) + attr("height", std::max(h, 0.0)) + "/></clipPath></defs>\n";
}

void SvgDoc::open_group(std::string_view clip_id) {
  out_ += "<g";
  if (!clip_id.empty()) out_ += " clip-path=\"url(#" + escape_xml(clip_id) + ")\"";
  out_ += ">\n";
  ++open_groups_;
}

void SvgDoc::close_group() {
  if (open_groups_ == 0) return;
  out_ += "</g>\n";
  --open_groups_;
}

std::string SvgDoc::finish() {
  while (open_groups_ > 0) close_group();
  return out_ + "</svg>\n";
}

}  // namespace mt::tools
