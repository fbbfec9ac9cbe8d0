// Measured latency tables (morph.hardware: FILE with "layers", docs/latency_table.md): parsed with
// the depth-bounded JSON reader, validated, and every entry interpolated inside, at and beyond
// its grid, as the cost model would.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include "core/json_read.h"
#include "morph/latency_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string why;
  const std::optional<nlohmann::json> j = mt::try_parse_json(text, why);
  if (!j) return 0;
  try {
    const mt::morph::LatencyTable table = mt::morph::LatencyTable::from_json(*j, "fuzz.json");
    const nlohmann::json back = table.to_json();
    for (const nlohmann::json& l : back["layers"]) {
      const mt::morph::LatencyEntry* e = table.find(l["key"].get<std::string>());
      if (!e) continue;
      for (double a : {0.5, 1.0, e->in.back(), e->in.back() * 2})
        for (double b : {1.0, e->out.front(), e->out.back() + 3})
          (void)mt::morph::interpolate(*e, a, b);
    }
  } catch (const std::exception&) {
  }
  return 0;
}
