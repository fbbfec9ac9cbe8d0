// A checkpoint's trainer_state.json: parsed with the depth bound, its keys, checksums and random
// engine states read as a resume reads them.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <random>
#include <string_view>

#include "core/json_read.h"
#include "trainers/checkpoint_checksums.h"
#include "trainers/trainer_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string why;
  const std::optional<nlohmann::json> j = mt::try_parse_json(text, why);
  if (!j) return 0;
  try {
    const mt::TrainerState s = mt::trainer_state_from_json(*j, "fuzz.json");
    for (const auto& [name, state] : s.rng) {
      std::mt19937_64 engine;
      mt::restore_rng(engine, state, name);
    }
    (void)mt::checkpoint_detail::verify_state_json(*j, "fuzz.json");
  } catch (const std::exception&) {
  }
  return 0;
}
