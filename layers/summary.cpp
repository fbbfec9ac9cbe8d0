#include "layers/summary.h"

#include <algorithm>
#include <cstdio>

namespace mt::layers {

ModelSummary summarize(const Graph& graph) {
  const std::vector<Shape> shapes = infer_value_shapes(graph, 1);
  ModelSummary s;
  for (const Node& node : graph.nodes()) {
    LayerSummary row;
    row.name = node.name;
    row.kind = node.op->kind_name();
    row.output = shapes[node.outputs.front()];
    std::vector<Shape> in, out;
    for (ValueId v : node.inputs) {
      in.push_back(shapes[v]);
      if (graph.value(v).kind == ValueKind::param) row.params += graph.value(v).data.numel();
    }
    for (ValueId v : node.outputs) out.push_back(shapes[v]);
    row.macs = node.op->macs(in, out);
    s.total_params += row.params;
    s.total_macs += row.macs;
    s.layers.push_back(std::move(row));
  }
  for (ValueId v : graph.buffers()) s.total_buffers += graph.value(v).data.numel();
  return s;
}

namespace {
std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}
}  // namespace

std::string format_summary(const ModelSummary& s) {
  size_t name_w = 5, kind_w = 4, shape_w = 12;
  for (const auto& l : s.layers) {
    name_w = std::max(name_w, l.name.size());
    kind_w = std::max(kind_w, l.kind.size());
    shape_w = std::max(shape_w, l.output.str().size());
  }
  std::string out;
  char line[512];
  auto row = [&](const std::string& a, const std::string& b, const std::string& c,
                 const std::string& d, const std::string& e) {
    std::snprintf(line, sizeof line, "%-*s  %-*s  %-*s  %12s  %15s\n", static_cast<int>(name_w),
                  a.c_str(), static_cast<int>(kind_w), b.c_str(), static_cast<int>(shape_w), c.c_str(),
                  d.c_str(), e.c_str());
    out += line;
  };
  row("layer", "kind", "output shape", "params", "MACs");
  out += std::string(name_w + kind_w + shape_w + 12 + 15 + 8, '-') + "\n";
  for (const auto& l : s.layers)
    row(l.name, l.kind, l.output.str(), l.params ? with_commas(l.params) : "", l.macs ? with_commas(l.macs) : "");
  out += std::string(name_w + kind_w + shape_w + 12 + 15 + 8, '-') + "\n";
  out += "total parameters: " + with_commas(s.total_params) + "\n";
  out += "total MACs per sample: " + with_commas(s.total_macs) + " (" +
         std::to_string(2.0 * static_cast<double>(s.total_macs) / 1e6) + " MFLOP)\n";
  out += "buffers (running statistics): " + with_commas(s.total_buffers) + "\n";
  return out;
}

}  // namespace mt::layers
