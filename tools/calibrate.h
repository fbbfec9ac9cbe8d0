#pragma once
// `morphtrain --calibrate`: the latency table of the machine it runs on, measured through the
// same kernels training uses: peak convolution throughput (GFLOP/s) and memory bandwidth (GB/s),
// the two numbers of a roofline (morph/hardware.h); with a config, per-layer latency tables of its
// model too (tools/calibrate_layers.h). A config names the written file in morph.hardware.
#include <string>

#include <nlohmann/json.hpp>

#include "core/backend.h"
#include "tools/config.h"

namespace mt::tools {

struct Calibration {
  double peak_gflops = 0;  // best of the conv shapes tried
  double memory_gbps = 0;  // a large elementwise add: 3 arrays of 4-byte floats per element
  nlohmann::json details;  // every shape tried and its figure
};

// Runs for about `seconds` in total.
Calibration calibrate(KernelBackend& backend, double seconds = 6.0);
nlohmann::json to_json(const Calibration& c, const std::string& name);
// With `config`, also the per-layer latency table of its model (tools/calibrate_layers.h).
int calibrate_command(const std::string& output, const Config* config = nullptr);

}  // namespace mt::tools
