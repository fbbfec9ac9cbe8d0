#pragma once
// Measured latency tables: for each prunable layer shape of a network, its latency (ns per batch)
// on a grid of input and output channel counts, measured on the target machine (`morphtrain
// --calibrate FILE --config CFG` measures them through morphtrain's own kernels; a table measured
// elsewhere, for another runtime, loads the same way). The latency target then costs such a
// layer by interpolating its table, and the regularizer weighs each channel by the measured
// marginal latency: the slope of the table at the current channel counts.
//
// File format (JSON, docs/latency_table.md):
//   {"format": "morphtrain.latency_table", "name": "...", "batch": 128,
//    "peak_gflops": ..., "memory_gbps": ...,          the roofline for ops without a table
//    "layers": [{"key": "conv2d 16x16 28x28 k3x3 s1x1 p1x1 d1x1 g1",
//                "in": [1, 4, 8, 16], "out": [1, 4, 8, 16],   ascending channel counts
//                "ns": [[...], ...]}]}                       ns[i][j]: in[i] inputs, out[j] outputs
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/graph.h"

namespace mt::morph {

struct LatencyEntry {
  std::string key;
  std::vector<double> in, out;          // grid points, ascending
  std::vector<std::vector<double>> ns;  // [in.size()][out.size()]
};

// The latency at (a_in, a_out) and its partial derivatives: bilinear inside the grid cell,
// extended linearly beyond the grid's ends (the nearest cell's slopes).
struct Interpolated {
  double ns = 0, d_in = 0, d_out = 0;
};
Interpolated interpolate(const LatencyEntry& e, double a_in, double a_out);

class LatencyTable {
 public:
  LatencyTable() = default;
  // Throws ConfigError naming `source` and the defect (a grid that does not ascend, a row of the
  // wrong length, a negative or non-finite latency).
  static LatencyTable from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;

  void add(LatencyEntry e);
  const LatencyEntry* find(const std::string& key) const;
  size_t size() const { return entries_.size(); }
  int64_t batch = 0;

 private:
  std::vector<LatencyEntry> entries_;
};

// The key of a layer shape: kind, dense input x output channels, input H x W, kernel, stride,
// padding, dilation, groups ("conv2d 16x16 28x28 k3x3 s1x1 p1x1 d1x1 g1"; "linear 64x10").
std::string conv_key(int64_t in, int64_t out, int64_t h, int64_t w, int kh, int kw, int sh, int sw, int ph, int pw,
                     int dh, int dw, int groups);
std::string linear_key(int64_t in, int64_t out);
// The key of a conv2d or linear node of `g` from its dense shapes (`shapes`: one sample's value
// shapes); empty for other nodes.
std::string layer_key(const Graph& g, const std::vector<Shape>& shapes, const Node& n);

// The channel counts a dense width is measured at: 1, the width, and its eighths, rounded.
std::vector<double> channel_grid(int64_t dense);

}  // namespace mt::morph
