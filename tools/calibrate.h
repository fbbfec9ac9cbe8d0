#pragma once
// `morphtrain --calibrate`: the latency table of the machine it runs on, measured through the
// same kernels training uses: peak convolution throughput (GFLOP/s) and memory bandwidth (GB/s),
// the two numbers of a roofline (morph/hardware.h). A config names the written file in
// morph.hardware.
#include <string>

#include <nlohmann/json.hpp>

#include "core/backend.h"

namespace mt::tools {

struct Calibration {
  double peak_gflops = 0;  // best of the conv shapes tried
  double memory_gbps = 0;  // a large elementwise add: 3 arrays of 4-byte floats per element
  nlohmann::json details;  // every shape tried and its figure
};

// Runs for about `seconds` in total.
Calibration calibrate(KernelBackend& backend, double seconds = 6.0);
nlohmann::json to_json(const Calibration& c, const std::string& name);
int calibrate_command(const std::string& output);

}  // namespace mt::tools
