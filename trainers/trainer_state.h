#pragma once
// Where a run stands, beyond its weights and optimizer state: what a resumed run needs to carry
// on exactly where the saved one was (step and position in the epoch, the seed and the state of
// every random engine), written as `trainer_state.json` next to a checkpoint's tensors.
#include <cstdint>
#include <map>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

namespace mt {

struct TrainerState {
  int64_t step = 0;           // optimizer steps taken
  int64_t epoch = 0;          // the epoch in progress (0-based)
  int64_t step_in_epoch = 0;  // batches of `epoch` already consumed
  uint64_t seed = 0;
  // Engine name ("shuffle", "augment") -> std::mt19937_64 state as its operator<< writes it.
  std::map<std::string, std::string> rng;
  double best_accuracy = 0;   // best test accuracy so far, a fraction in [0, 1]
  nlohmann::json extra = nlohmann::json::object();  // anything else the caller wants back
};

nlohmann::json to_json(const TrainerState& state);
// Throws IoError naming `source` and the first missing or mistyped key.
TrainerState trainer_state_from_json(const nlohmann::json& j, const std::string& source);

// A random engine's full state as text and back; the text round trip is exact (the standard
// defines operator<< / operator>> for the engines). Throws IoError on malformed text.
std::string rng_state(const std::mt19937_64& engine);
void restore_rng(std::mt19937_64& engine, const std::string& state, const std::string& name);

}  // namespace mt
