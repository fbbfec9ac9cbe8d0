// The latency table of this machine: measured through the kernels, written as JSON, read back by
// morph.hardware.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

#include "core/atomic_file.h"
#include "kernels/backends.h"
#include "temp_dir.h"
#include "tools/calibrate.h"
#include "tools/morph_setup.h"

using namespace mt;

TEST_CASE("calibration measures plausible figures and morph.hardware reads them back", "[tools][calibrate]") {
  const tools::Calibration c = tools::calibrate(backend_for(Device::cpu()), 0.5);
  // Bounds that catch a wrong unit or a broken timer (a factor of 1000), not a slow or busy machine:
  // a healthy one does tens to hundreds of GFLOP/s and 5-100 GB/s, and the floors (the add of three
  // 64 MiB arrays in under 4 s, the best of at least 3 runs) leave a factor of 100 for ASan and
  // a contended core. No CPU does 100 TFLOP/s, and none streams 10 TB/s.
  CHECK(c.peak_gflops > 1);
  CHECK(c.peak_gflops < 1e5);
  CHECK(c.memory_gbps > 0.05);
  CHECK(c.memory_gbps < 1e4);
  // The figures are the ones of the details: the peak is the best conv, the bandwidth the add's.
  REQUIRE(c.details["conv"].size() == 3);
  double best = 0;
  for (const auto& conv : c.details["conv"]) best = std::max(best, conv["gflops"].get<double>());
  CHECK(c.peak_gflops == best);
  CHECK(c.details["add"]["gbps"].get<double>() == c.memory_gbps);

  testing::TempDir dir("calibrate");
  const std::string table = (dir.path / "table.json").string();
  write_file_atomically(table, tools::to_json(c, "here").dump(2));
  const std::string config = (dir.path / "c.yaml").string();
  std::ofstream(config) << "morph:\n  method: gamma\n  hardware: " << table << "\n  target:\n    cost: latency\n";
  const morph::Hardware h = tools::hardware_from_config(tools::Config::load(config));
  CHECK(h.name == "here");
  CHECK(h.peak_gflops == Approx(c.peak_gflops));
  CHECK(h.memory_gbps == Approx(c.memory_gbps));

  std::ofstream(table) << "{\"name\": \"broken\"}";
  CHECK_THROWS_WITH(tools::hardware_from_config(tools::Config::load(config)),
                    Catch::Contains(table) && Catch::Contains("peak_gflops"));
  std::ofstream(config) << "morph:\n  hardware: NoSuchGPU\n";
  CHECK_THROWS_WITH(tools::hardware_from_config(tools::Config::load(config)), Catch::Contains("V100"));
}
