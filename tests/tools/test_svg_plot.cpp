// The SVG plots: well-formed XML, escaped text, no NaN in the output, thinning that keeps spikes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "temp_dir.h"
#include "tools/svg_doc.h"
#include "tools/svg_plot.h"

using namespace mt::tools;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

bool valid_entity(const std::string& s, size_t amp) {
  static const std::regex kEntity("^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);");
  return std::regex_search(s.substr(amp, 12), kEntity);
}

// A small XML well-formedness check (elements nest, attributes are quoted and unique, every '&'
// starts an entity, one root): enough to catch what a string-built SVG gets wrong. Returns "" or
// what is wrong.
std::string xml_problem(const std::string& s) {
  std::vector<std::string> open;
  int roots = 0;
  size_t i = 0;
  auto name_at = [&](size_t& k) {
    const size_t b = k;
    while (k < s.size() && (std::isalnum(static_cast<unsigned char>(s[k])) || std::strchr("_:-.", s[k]))) ++k;
    return s.substr(b, k - b);
  };
  while (i < s.size()) {
    if (s[i] == '&' && !valid_entity(s, i)) return "bad entity at " + std::to_string(i);
    if (s[i] != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(s[i]))) return "text outside the root";
      ++i;
      continue;
    }
    if (s.compare(i, 2, "<?") == 0 || s.compare(i, 4, "<!--") == 0) {
      const size_t e = s.find(s[i + 1] == '?' ? "?>" : "-->", i);
      if (e == std::string::npos) return "unclosed declaration";
      i = e + 2;
      continue;
    }
    if (s.compare(i, 2, "</") == 0) {
      size_t k = i + 2;
      const std::string name = name_at(k);
      if (open.empty() || open.back() != name || k >= s.size() || s[k] != '>') return "bad end tag </" + name;
      open.pop_back();
      i = k + 1;
      continue;
    }
    size_t k = i + 1;
    const std::string name = name_at(k);
    if (name.empty()) return "empty element name at " + std::to_string(i);
    std::vector<std::string> attrs;
    while (true) {
      while (k < s.size() && std::isspace(static_cast<unsigned char>(s[k]))) ++k;
      if (k >= s.size()) return "unterminated tag <" + name;
      if (s[k] == '>' || s.compare(k, 2, "/>") == 0) break;
      const std::string attr = name_at(k);
      if (attr.empty() || s[k] != '=' || (s[k + 1] != '"' && s[k + 1] != '\'')) return "bad attribute in <" + name;
      if (std::find(attrs.begin(), attrs.end(), attr) != attrs.end()) return "duplicate attribute " + attr;
      attrs.push_back(attr);
      const size_t end = s.find(s[k + 1], k + 2);
      if (end == std::string::npos) return "unclosed attribute " + attr;
      for (size_t a = k + 2; a < end; ++a) {
        if (s[a] == '<') return "'<' in attribute " + attr;
        if (s[a] == '&' && !valid_entity(s, a)) return "bad entity in attribute " + attr;
      }
      k = end + 1;
    }
    if (open.empty() && ++roots > 1) return "two root elements";
    if (s[k] == '>') {
      open.push_back(name);
      i = k + 1;
    } else {
      i = k + 2;
    }
  }
  return open.empty() ? (roots == 1 ? "" : "no root element") : "unclosed <" + open.back() + ">";
}

// The real parser as well, where a python3 is there to run it.
void check_with_python(const std::string& svg) {
  if (std::system("/usr/bin/python3 -c 'import xml.etree.ElementTree' >/dev/null 2>&1") != 0) {
    WARN("SKIPPED the python parse: /usr/bin/python3 cannot import xml.etree");
    return;
  }
  mt::testing::TempDir dir("svg");
  const auto file = dir.path / "plot.svg";
  write_svg(file.string(), svg);
  const std::string cmd =
      "/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as E; "
      "r = E.parse(sys.argv[1]).getroot(); "
      "sys.exit(0 if r.tag == '{http://www.w3.org/2000/svg}svg' else 3)\" " + file.string();
  CHECK(std::system(cmd.c_str()) == 0);
}

void check_svg(const std::string& svg) {
  INFO(svg.substr(0, 2000));
  CHECK(xml_problem(svg) == "");
  CHECK(svg.find("xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
  CHECK(svg.find("viewBox=\"0 0 ") != std::string::npos);
  CHECK(svg.find("font-family=\"sans-serif\"") != std::string::npos);
  std::string lower = svg;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  CHECK(lower.find("nan") == std::string::npos);
  CHECK(lower.find("inf") == std::string::npos);
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

LinePlot two_curves() {
  LinePlot p;
  p.title = "Cost";
  p.x_label = "step";
  p.y_label = "FLOPs";
  Series a{"train", {}, {}};
  Series b{"test", {}, {}, "", true};
  for (int i = 0; i < 50; ++i) {
    a.x.push_back(i);
    a.y.push_back(std::exp(-i / 10.0));
    b.x.push_back(i);
    b.y.push_back(std::exp(-i / 12.0));
  }
  p.series = {a, b};
  return p;
}

}  // namespace

TEST_CASE("the well-formedness check itself rejects broken XML", "[tools][plot]") {
  CHECK(xml_problem("<svg><g></svg>") != "");
  CHECK(xml_problem("<svg a=\"1\" a=\"2\"/>") != "");
  CHECK(xml_problem("<svg>a & b</svg>") != "");
  CHECK(xml_problem("<svg/><svg/>") != "");
  CHECK(xml_problem("<?xml version=\"1.0\"?>\n<svg x=\"&lt;\"><g/>t&amp;</svg>\n") == "");
}

TEST_CASE("escape_xml escapes markup and drops forbidden control characters", "[tools][plot]") {
  CHECK(escape_xml("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
  CHECK(escape_xml(std::string("x\x01y\tz")) == "x" "y\tz");
  CHECK(escape_xml("layer3.2.conv1 \xE2\x86\x92 ok") == "layer3.2.conv1 \xE2\x86\x92 ok");  // UTF-8 kept
}

TEST_CASE("a line plot is valid SVG with its title, axis names and legend", "[tools][plot]") {
  LinePlot p = two_curves();
  p.series[0].label = "<train> & \"val\"";
  p.reference_lines.push_back({0.5, "target 50%"});
  const std::string svg = line_plot(p);
  check_svg(svg);
  check_with_python(svg);
  CHECK(svg.find(">Cost</text>") != std::string::npos);
  CHECK(svg.find(">step</text>") != std::string::npos);
  CHECK(svg.find(">FLOPs</text>") != std::string::npos);
  CHECK(svg.find("&lt;train&gt; &amp; &quot;val&quot;") != std::string::npos);
  CHECK(svg.find(">test</text>") != std::string::npos);
  CHECK(svg.find(">target 50%</text>") != std::string::npos);
  CHECK(svg.find("stroke-dasharray") != std::string::npos);  // the dashed series and the target
  CHECK(svg.find(palette_color(0)) != std::string::npos);
  CHECK(svg.find(palette_color(1)) != std::string::npos);

  // A title too long for one line wraps; the whole of it is the first line's tooltip.
  p.title = "A very long title that says a great deal about the run, its budget, its data and its model";
  const std::string wrapped = line_plot(p);
  check_svg(wrapped);
  CHECK(wrapped.find("<title>" + p.title + "</title>") != std::string::npos);
  CHECK(wrapped.find(">" + p.title + "</text>") == std::string::npos);
}

TEST_CASE("NaN, infinities, constants, single points and empty series draw without nan", "[tools][plot]") {
  LinePlot p;
  p.title = "edge cases";
  p.series = {{"gappy", {0, 1, 2, 3, 4, 5}, {1, 2, kNaN, 3, 4, kInf}},
              {"flat", {0, 5}, {2, 2}},
              {"single", {3}, {7}},
              {"empty", {}, {}}};
  std::string svg = line_plot(p);
  check_svg(svg);
  // The NaN splits "gappy" into two pieces: its path starts twice.
  const std::regex gappy_path("<path d=\"M[^\"]* M[^\"]*\" fill=\"none\" stroke=\"" + palette_color(0));
  CHECK(std::regex_search(svg, gappy_path));
  CHECK(svg.find("<circle") != std::string::npos);  // the single point shows as a dot

  for (const auto& ys : {std::vector<double>{kNaN, kNaN}, {5, 5}, {0, 0}, {-kInf, kInf}}) {
    LinePlot q;
    q.series = {{"s", {1, 2}, ys}};
    check_svg(line_plot(q));
    q.log_y = true;
    check_svg(line_plot(q));
  }
  LinePlot nothing;
  const std::string empty = line_plot(nothing);
  check_svg(empty);
  CHECK(empty.find("no data") != std::string::npos);
}

TEST_CASE("fixed y range, percent labels and a log axis", "[tools][plot]") {
  LinePlot p = two_curves();
  p.y_min = 0;
  p.y_max = 1;
  p.y_percent = true;
  std::string svg = line_plot(p);
  check_svg(svg);
  CHECK(svg.find(">100%</text>") != std::string::npos);
  CHECK(svg.find(">0%</text>") != std::string::npos);

  LinePlot q = two_curves();
  q.series[0].y[3] = 0;  // not drawable on a log axis: a gap, not a crash
  q.log_y = true;
  svg = line_plot(q);
  check_svg(svg);
  CHECK(svg.find(">1</text>") != std::string::npos);
}

TEST_CASE("a reference line's label moves off the data", "[tools][plot]") {
  // A cost converging onto its budget from above: the label's usual place (above the line, at
  // the right) is where the curve runs, so it goes elsewhere: below the line or to the left.
  LinePlot p;
  Series cost{"cost"};
  for (int t = 0; t <= 600; t += 10) {
    cost.x.push_back(t);
    cost.y.push_back(0.5 + 0.5 * std::exp(-t / 120.0));
  }
  p.series = {cost};
  p.y_min = 0;
  p.reference_lines.push_back({0.5, "budget 50%"});
  const std::string svg = line_plot(p);
  check_svg(svg);
  std::smatch line, label;
  REQUIRE(std::regex_search(svg, line, std::regex("<line x1=\"[0-9.]+\" y1=\"([0-9.]+)\"[^>]*stroke-dasharray")));
  REQUIRE(std::regex_search(svg, label, std::regex("<text x=\"([0-9.]+)\" y=\"([0-9.]+)\"[^>]*>budget 50%</text>")));
  const bool below = std::stod(label[2]) > std::stod(line[1]);
  const bool left = std::stod(label[1]) < p.width / 2.0;
  CHECK((below || left));
}

TEST_CASE("a series with a wrong number of x values is a DataError", "[tools][plot]") {
  LinePlot p;
  p.series = {{"bad", {1, 2, 3}, {1, 2}}};
  CHECK_THROWS_AS(line_plot(p), mt::DataError);
  BarPlot b;
  b.categories = {"a", "b"};
  b.series = {{"before", {1}}};
  CHECK_THROWS_AS(bar_plot(b), mt::DataError);
}

TEST_CASE("thinning keeps each bucket's extremes, the order of x and the gaps", "[tools][plot]") {
  const size_t n = 100000;
  std::vector<double> x(n), y(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = static_cast<double>(i);
    y[i] = std::sin(i * 0.001);
  }
  y[12345] = 50;    // a spike up
  y[67890] = -40;   // and one down
  y[80000] = kNaN;  // a gap
  const Points d = downsample_min_max(x, y);
  CHECK(d.x.size() <= kMaxDrawnPoints + 8);
  CHECK(d.x.size() >= kMaxDrawnPoints / 2);
  CHECK(std::is_sorted(d.x.begin(), d.x.end()));
  CHECK(std::find(d.y.begin(), d.y.end(), 50.0) != d.y.end());
  CHECK(std::find(d.y.begin(), d.y.end(), -40.0) != d.y.end());
  CHECK(std::count_if(d.y.begin(), d.y.end(), [](double v) { return std::isnan(v); }) == 1);
  CHECK(d.x.front() == 0);          // the ends stay, so the x range does not shrink
  CHECK(d.x.back() == n - 1);

  const Points small = downsample_min_max({1, 2, 3}, {4, 5, 6});
  CHECK(small.y == std::vector<double>{4, 5, 6});

  LinePlot p;
  p.series = {{"cost", x, y}};
  const std::string svg = line_plot(p);
  check_svg(svg);
  CHECK(count(svg, " L") <= kMaxDrawnPoints + 8);
}

TEST_CASE("a bar plot of layer widths is valid SVG with every name and both series", "[tools][plot]") {
  BarPlot b;
  b.title = "Channels per layer";
  b.value_label = "output channels";
  BarSeries before{"before", {}}, after{"after", {}};
  for (int i = 0; i < 40; ++i) {
    b.categories.push_back("layer" + std::to_string(i / 10 + 1) + "." + std::to_string(i % 10) + ".conv1");
    before.values.push_back(64);
    after.values.push_back(i % 7 == 0 ? kNaN : 10 + i);
  }
  b.categories[5] = "features.denseblock4.denselayer16.conv2.a_really_long_suffix_that_will_not_fit";
  b.series = {before, after};
  b.value_labels = true;
  for (bool horizontal : {true, false}) {
    b.horizontal = horizontal;
    const std::string svg = bar_plot(b);
    check_svg(svg);
    CHECK(svg.find(">layer1.0.conv1</text>") != std::string::npos);
    CHECK(svg.find(">layer4.9.conv1</text>") != std::string::npos);
    CHECK(svg.find(">before</text>") != std::string::npos);
    CHECK(svg.find(">after</text>") != std::string::npos);
    CHECK(svg.find(">output channels</text>") != std::string::npos);
    // The long name is shortened in the middle; the full one is the tooltip.
    CHECK(svg.find("<title>features.denseblock4.denselayer16.conv2.a_really_long_suffix_that_will_not_fit</title>") !=
          std::string::npos);
    CHECK(svg.find("\xE2\x80\xA6") != std::string::npos);
    CHECK(svg.find(">64</text>") != std::string::npos);  // value labels
  }
  b.categories.clear();
  b.series = {{"before", {}}, {"after", {}}};
  check_svg(bar_plot(b));
}

TEST_CASE("write_svg writes the file whole", "[tools][plot]") {
  mt::testing::TempDir dir("svg");
  const std::string path = (dir.path / "p.svg").string();
  const std::string svg = line_plot(two_curves());
  write_svg(path, svg);
  std::ifstream in(path);
  std::stringstream got;
  got << in.rdbuf();
  CHECK(got.str() == svg);
  CHECK_THROWS_AS(write_svg((dir.path / "missing" / "p.svg").string(), svg), mt::IoError);
}
