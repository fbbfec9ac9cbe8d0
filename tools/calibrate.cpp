#include "tools/calibrate.h"

#include <chrono>
#include <iostream>
#include <unistd.h>

#include "core/atomic_file.h"
#include "kernels/backends.h"
#include "tools/calibrate_layers.h"
#include "tools/experiment.h"
#include "tools/training_phase.h"

namespace mt::tools {

namespace {

using Clock = std::chrono::steady_clock;

// Timed runs of each measurement, however short its budget: on a loaded machine one call can take
// longer than the whole budget, and a single sample is as disturbed as it happened to be.
constexpr int kMinRuns = 3;

// Seconds per call of `fn`: the best of several timed runs after a warm-up, since on a shared
// machine the fastest run is the one least disturbed.
template <typename Fn>
double best_seconds(Fn fn, double budget_s) {
  fn();  // warm-up: primitive creation, first touch of memory
  double best = 1e30;
  const auto start = Clock::now();
  for (int runs = 0; runs < kMinRuns || std::chrono::duration<double>(Clock::now() - start).count() < budget_s;
       ++runs) {
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

struct ConvShape {
  int64_t n, c, hw, k, kernel;
};

}  // namespace

Calibration calibrate(KernelBackend& backend, double seconds) {
  Calibration cal;
  // Shapes where a convolution is compute-bound: many channels, a multiple of 16, 3x3.
  const ConvShape shapes[] = {{32, 64, 32, 64, 3}, {32, 128, 16, 128, 3}, {16, 256, 16, 256, 3}};
  const double per_shape = seconds * 0.6 / std::size(shapes);
  for (const ConvShape& s : shapes) {
    Tensor x = Tensor::zeros({s.n, s.c, s.hw, s.hw}, DType::f32, Layout::nhwc, backend.device());
    Tensor w = Tensor::zeros({s.k, s.c, s.kernel, s.kernel}, DType::f32, Layout::nchw, backend.device());
    Tensor y = Tensor::empty({s.n, s.k, s.hw, s.hw}, DType::f32, Layout::nhwc, backend.device());
    Conv2dDesc d;
    d.pad_h = d.pad_w = s.kernel / 2;
    const double t = best_seconds([&] { backend.conv2d_fwd(d, x, w, Tensor(), y); }, per_shape);
    const double flops = 2.0 * s.n * s.k * s.hw * s.hw * s.c * s.kernel * s.kernel;
    const double gflops = flops / t * 1e-9;
    cal.details["conv"].push_back({{"shape", {s.n, s.c, s.hw, s.hw}}, {"out_channels", s.k},
                                   {"kernel", s.kernel}, {"gflops", gflops}});
    cal.peak_gflops = std::max(cal.peak_gflops, gflops);
  }
  // 64 MiB per array: far beyond the caches, so the add streams from memory.
  const int64_t elements = int64_t{16} << 20;
  Tensor a = Tensor::zeros({elements / 4096, 16, 16, 16}, DType::f32, Layout::nhwc, backend.device());
  Tensor b = Tensor::zeros(a.shape(), DType::f32, Layout::nhwc, backend.device());
  Tensor y = Tensor::empty(a.shape(), DType::f32, Layout::nhwc, backend.device());
  const double t = best_seconds([&] { backend.add_fwd(a, b, y); }, seconds * 0.4);
  cal.memory_gbps = 3.0 * 4.0 * static_cast<double>(elements) / t * 1e-9;
  cal.details["add"] = {{"elements", elements}, {"gbps", cal.memory_gbps}};
  return cal;
}

nlohmann::json to_json(const Calibration& c, const std::string& name) {
  return {{"name", name}, {"peak_gflops", c.peak_gflops}, {"memory_gbps", c.memory_gbps}, {"details", c.details}};
}

int calibrate_command(const std::string& output, const Config* config) {
  KernelBackend& backend = backend_for(Device::cpu());
  std::cout << "calibrating the " << backend.name() << " backend (about 6 s)..." << std::endl;
  const Calibration c = calibrate(backend);
  char host[256] = "this-machine";
  gethostname(host, sizeof host - 1);
  nlohmann::json j = to_json(c, std::string(host) + "-" + std::string(backend.name()));
  if (config) {  // per-layer mode: the config's model, layer by layer
    const DataSplits data = load_data(*config);
    const layers::Model model = configured_architecture(*config, data.train);
    const int64_t batch = std::max<int64_t>(config->settings().pipeline.benchmark_batch, 1);
    std::cout << "measuring every conv2d and linear shape of " << model.name << " at batch " << batch
              << " on a grid of channel counts..." << std::endl;
    const morph::LatencyTable table = calibrate_layers(backend, model, batch, std::cout);
    const nlohmann::json measured = table.to_json();
    for (const auto& [key, value] : measured.items()) j[key] = value;
    std::cout << table.size() << " layer shapes measured" << std::endl;
  }
  write_file_atomically(output, j.dump(2) + "\n");
  std::cout << "peak conv throughput " << c.peak_gflops << " GFLOP/s, memory bandwidth " << c.memory_gbps
            << " GB/s\nwrote " << output << " (use it with --set morph.hardware=" << output << ")" << std::endl;
  return 0;
}

}  // namespace mt::tools
