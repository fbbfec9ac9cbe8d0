#pragma once
// Hardware tables for the latency target: a roofline needs only the peak compute and the memory
// bandwidth. The named entries are MorphNet's (network_regularizers/resource_function.py,
// PEAK_COMPUTE and MEMORY_BANDWIDTH), in its units, so that a latency cost here reads like
// MorphNet's: FLOPs / (GFLOP/s) and bytes / (GB/s), i.e. nanoseconds.
#include <memory>
#include <string>
#include <vector>

namespace mt::morph {

class LatencyTable;

struct Hardware {
  std::string name;
  double peak_gflops = 0;  // GFLOP/s
  double memory_gbps = 0;  // GB/s
  // Measured per-layer latencies (morph/latency_table.h): a layer found there is costed by its
  // table instead of the roofline.
  std::shared_ptr<const LatencyTable> measured;
};

// K80, P4, T4, P100, V100, TPUv2, and MorphNet's two idealised devices FLOP_LATENCY (infinite
// bandwidth) and MEMORY_LATENCY (infinite compute).
const std::vector<Hardware>& known_hardware();
// Throws ConfigError listing the known names.
Hardware hardware_by_name(const std::string& name);
// A custom table; throws ConfigError unless both numbers are positive.
Hardware custom_hardware(const std::string& name, double peak_gflops, double memory_gbps);

}  // namespace mt::morph
