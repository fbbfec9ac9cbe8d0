#include "tools/calibrate_layers.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <set>

#include "core/ops/conv2d.h"

namespace mt::tools {

namespace {

using Clock = std::chrono::steady_clock;

// Nanoseconds per call: the best of three after a warm-up (the least disturbed run of a shared
// machine), more runs for calls under a millisecond.
template <typename Fn>
double best_ns(Fn fn) {
  fn();
  double best = 1e300;
  int runs = 0;
  const auto start = Clock::now();
  do {
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
    ++runs;
  } while (runs < 3 || (runs < 20 && std::chrono::duration<double>(Clock::now() - start).count() < 0.01));
  return best;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

morph::LatencyTable calibrate_layers(KernelBackend& backend, const layers::Model& model, int64_t batch,
                                     std::ostream& log) {
  const Graph& g = model.graph;
  const std::vector<Shape> shapes = infer_value_shapes(g, 1);
  morph::LatencyTable table;
  table.batch = batch;
  std::set<std::string> seen;
  std::vector<int> layers;
  for (int n = 0; n < static_cast<int>(g.nodes().size()); ++n) {
    const Node& node = g.node(n);
    if (node.op->kind() != OpKind::conv2d && node.op->kind() != OpKind::linear) continue;
    layers.push_back(n);
  }
  const auto start = Clock::now();
  int done = 0;
  for (int n : layers) {
    const Node& node = g.node(n);
    const Shape &x = shapes[node.inputs[0]], &y = shapes[node.outputs[0]];
    morph::LatencyEntry e;
    e.key = morph::layer_key(g, shapes, node);
    const auto* conv = dynamic_cast<const Conv2dOp*>(node.op.get());
    ++done;
    if (!seen.insert(e.key).second) continue;  // a repeated block: measured once
    const bool depthwise = conv && conv->desc().groups > 1 && conv->desc().groups == x[1] && x[1] == y[1];
    e.in = depthwise ? std::vector<double>{1} : morph::channel_grid(x[1]);
    e.out = morph::channel_grid(y[1]);
    for (double a_in : e.in) {
      std::vector<double> row;
      for (double a_out : e.out) {
        const int64_t ci = static_cast<int64_t>(a_in), co = static_cast<int64_t>(a_out);
        if (conv) {
          Conv2dDesc d = conv->desc();
          const Shape& w = g.value(node.inputs[1]).shape;
          const int64_t in_c = depthwise ? co : ci;
          if (depthwise) d.groups = static_cast<int>(co);
          else if (d.groups > 1 && (in_c % d.groups != 0 || co % d.groups != 0)) d.groups = 1;  // off-grid grouping
          const Layout act = backend.activation_layout();
          Tensor xt = Tensor::zeros({batch, in_c, x[2], x[3]}, DType::f32, act, backend.device());
          Tensor wt = Tensor::zeros({co, in_c / d.groups, w[2], w[3]}, DType::f32, Layout::nchw, backend.device());
          Tensor yt = Tensor::empty({batch, co, y[2], y[3]}, DType::f32, act, backend.device());
          row.push_back(best_ns([&] { backend.conv2d_fwd(d, xt, wt, Tensor(), yt); }));
        } else {
          Tensor xt = Tensor::zeros({batch, ci}, DType::f32, Layout::nchw, backend.device());
          Tensor wt = Tensor::zeros({co, ci}, DType::f32, Layout::nchw, backend.device());
          Tensor bt = Tensor::zeros({co}, DType::f32, Layout::nchw, backend.device());
          Tensor yt = Tensor::empty({batch, co}, DType::f32, Layout::nchw, backend.device());
          row.push_back(best_ns([&] { backend.linear_fwd(xt, wt, bt, yt); }));
        }
      }
      e.ns.push_back(std::move(row));
    }
    char line[256];
    std::snprintf(line, sizeof line, "calibrate: layer %d of %zu (%s): %zux%zu points, %.1f s so far\n", done,
                  layers.size(), node.name.c_str(), e.in.size(), e.out.size(), seconds_since(start));
    log << line << std::flush;
    table.add(std::move(e));
  }
  return table;
}

}  // namespace mt::tools
