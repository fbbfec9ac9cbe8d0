#include "morph/hardware.h"

#include "core/error.h"

namespace mt::morph {

const std::vector<Hardware>& known_hardware() {
  // MorphNet's table. NB: V100's 125,000 GFLOP/s is its tensor-core peak, not its 15.7 TFLOP/s
  // f32 peak; MorphNet uses the former, and so do we.
  static const std::vector<Hardware> table = {
      custom_hardware("K80", 8740, 480),          custom_hardware("P4", 5500, 192),
      custom_hardware("T4", 8100, 300),           custom_hardware("P100", 9300, 732),
      custom_hardware("V100", 125000, 900),       custom_hardware("TPUv2", 22500, 300),
      custom_hardware("FLOP_LATENCY", 1, 1e20),   custom_hardware("MEMORY_LATENCY", 1e20, 1),
  };
  return table;
}

Hardware hardware_by_name(const std::string& name) {
  std::string known;
  for (const Hardware& h : known_hardware()) {
    if (h.name == name) return h;
    known += (known.empty() ? "" : ", ") + h.name;
  }
  MT_FAIL(ConfigError, "unknown hardware '", name, "' (known: ", known,
          "; hint: give a custom table with peak_gflops and memory_gbps)");
}

Hardware custom_hardware(const std::string& name, double peak_gflops, double memory_gbps) {
  MT_CHECK(peak_gflops > 0 && memory_gbps > 0, ConfigError, "hardware '", name,
           "': peak_gflops and memory_gbps must be > 0, got ", peak_gflops, " and ", memory_gbps);
  Hardware h;
  h.name = name;
  h.peak_gflops = peak_gflops;
  h.memory_gbps = memory_gbps;
  return h;
}

}  // namespace mt::morph
