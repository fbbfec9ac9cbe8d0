#include "morph/latency_table.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"
#include "core/ops/conv2d.h"

namespace mt::morph {

namespace {
// The cell [g[i], g[i + 1]] holding a (the first or last cell outside the grid), and where a lies
// in it as a fraction (below 0 or above 1 outside).
std::pair<size_t, double> cell(const std::vector<double>& g, double a) {
  if (g.size() == 1) return {0, 0.0};
  size_t i = static_cast<size_t>(std::upper_bound(g.begin(), g.end(), a) - g.begin());
  i = std::clamp<size_t>(i, 1, g.size() - 1) - 1;
  return {i, (a - g[i]) / (g[i + 1] - g[i])};
}
}  // namespace

Interpolated interpolate(const LatencyEntry& e, double a_in, double a_out) {
  const auto [i, u] = cell(e.in, a_in);
  const auto [j, v] = cell(e.out, a_out);
  const size_t i1 = std::min(i + 1, e.in.size() - 1), j1 = std::min(j + 1, e.out.size() - 1);
  const double f00 = e.ns[i][j], f01 = e.ns[i][j1], f10 = e.ns[i1][j], f11 = e.ns[i1][j1];
  Interpolated r;
  r.ns = f00 * (1 - u) * (1 - v) + f10 * u * (1 - v) + f01 * (1 - u) * v + f11 * u * v;
  const double span_in = i1 > i ? e.in[i1] - e.in[i] : 1, span_out = j1 > j ? e.out[j1] - e.out[j] : 1;
  r.d_in = i1 > i ? ((f10 - f00) * (1 - v) + (f11 - f01) * v) / span_in : 0;
  r.d_out = j1 > j ? ((f01 - f00) * (1 - u) + (f11 - f10) * u) / span_out : 0;
  return r;
}

LatencyTable LatencyTable::from_json(const nlohmann::json& j, const std::string& source) {
  auto fail = [&](const std::string& what) { MT_FAIL(ConfigError, "latency table '", source, "': ", what); };
  if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array()) fail("needs a \"layers\" list");
  LatencyTable t;
  if (j.contains("batch") && j["batch"].is_number_integer()) t.batch = j["batch"].get<int64_t>();
  for (const nlohmann::json& l : j["layers"]) {
    if (!l.is_object() || !l.contains("key") || !l["key"].is_string()) fail("a layer without a \"key\"");
    LatencyEntry e;
    e.key = l["key"].get<std::string>();
    auto grid = [&](const char* name, std::vector<double>& out) {
      if (!l.contains(name) || !l[name].is_array() || l[name].empty()) fail("layer '" + e.key + "' needs \"" + name + "\"");
      for (const nlohmann::json& v : l[name]) {
        if (!v.is_number() || !(v.get<double>() >= 1)) fail("layer '" + e.key + "': \"" + name + "\" needs counts >= 1");
        if (!out.empty() && !(v.get<double>() > out.back()))
          fail("layer '" + e.key + "': \"" + name + "\" must ascend");
        out.push_back(v.get<double>());
      }
    };
    grid("in", e.in);
    grid("out", e.out);
    if (!l.contains("ns") || !l["ns"].is_array() || l["ns"].size() != e.in.size())
      fail("layer '" + e.key + "': \"ns\" needs one row per \"in\" point");
    for (const nlohmann::json& row : l["ns"]) {
      if (!row.is_array() || row.size() != e.out.size()) fail("layer '" + e.key + "': a row of \"ns\" needs one value per \"out\" point");
      std::vector<double> r;
      for (const nlohmann::json& v : row) {
        if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
          fail("layer '" + e.key + "': latencies must be finite and >= 0");
        r.push_back(v.get<double>());
      }
      e.ns.push_back(std::move(r));
    }
    t.add(std::move(e));
  }
  return t;
}

nlohmann::json LatencyTable::to_json() const {
  nlohmann::json layers = nlohmann::json::array();
  for (const LatencyEntry& e : entries_) layers.push_back({{"key", e.key}, {"in", e.in}, {"out", e.out}, {"ns", e.ns}});
  return {{"format", "morphtrain.latency_table"}, {"batch", batch}, {"layers", layers}};
}

void LatencyTable::add(LatencyEntry e) { entries_.push_back(std::move(e)); }

const LatencyEntry* LatencyTable::find(const std::string& key) const {
  for (const LatencyEntry& e : entries_)
    if (e.key == key) return &e;
  return nullptr;
}

std::string conv_key(int64_t in, int64_t out, int64_t h, int64_t w, int kh, int kw, int sh, int sw, int ph, int pw,
                     int dh, int dw, int groups) {
  auto x = [](auto a, auto b) { return std::to_string(a) + "x" + std::to_string(b); };
  return "conv2d " + x(in, out) + " " + x(h, w) + " k" + x(kh, kw) + " s" + x(sh, sw) + " p" + x(ph, pw) + " d" +
         x(dh, dw) + " g" + std::to_string(groups);
}

std::string linear_key(int64_t in, int64_t out) { return "linear " + std::to_string(in) + "x" + std::to_string(out); }

std::string layer_key(const Graph& g, const std::vector<Shape>& shapes, const Node& n) {
  const Shape &x = shapes[n.inputs[0]], &y = shapes[n.outputs[0]];
  if (n.op->kind() == OpKind::linear) return linear_key(x[1], y[1]);
  const auto* conv = dynamic_cast<const Conv2dOp*>(n.op.get());
  if (!conv || x.rank() != 4) return "";
  const Conv2dDesc& d = conv->desc();
  const Shape& w = g.value(n.inputs[1]).shape;
  return conv_key(x[1], y[1], x[2], x[3], static_cast<int>(w[2]), static_cast<int>(w[3]), d.stride_h, d.stride_w,
                  d.pad_h, d.pad_w, d.dilation_h, d.dilation_w, d.groups);
}

std::vector<double> channel_grid(int64_t dense) {
  std::set<int64_t> points{1, dense};
  for (int k = 1; k < 8; ++k) points.insert(std::max<int64_t>(1, std::llround(static_cast<double>(dense) * k / 8)));
  return {points.begin(), points.end()};
}

}  // namespace mt::morph
