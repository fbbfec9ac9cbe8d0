#pragma once
// What the pipeline's phases share: pipeline.json (the phases done and their figures) and the
// files and weights a finished phase leaves for the next, read on rank 0 and handed to every rank.
#include <chrono>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "core/graph.h"
#include "tools/config.h"
#include "trainers/communicator.h"

namespace mt::tools {

// pipeline.json, rewritten atomically after each phase. Rank 0 reads and writes it; the other
// ranks get its content, so all skip the same phases.
class PipelineState {
 public:
  PipelineState(std::filesystem::path path, Communicator& comm);
  bool done(const std::string& phase) const { return figure(phase, "done", false); }
  // A figure a phase recorded (e.g. seconds spent before a resume), or `fallback`.
  template <typename T>
  T figure(const std::string& phase, const std::string& key, T fallback) const {
    return state_.contains(phase) && state_[phase].is_object() ? state_[phase].value(key, fallback) : fallback;
  }
  const nlohmann::json& json() const { return state_; }
  void finish(const std::string& phase, nlohmann::json figures);

 private:
  void read();

  std::filesystem::path path_;
  bool writer_;
  nlohmann::json state_ = nlohmann::json::object();
};

// A file rank 0 wrote (the structure, the masks), read by rank 0 and handed to every rank.
nlohmann::json read_on_root(const std::filesystem::path& path, Communicator& comm, const char* hint);

// A phase's own checkpoints, if it wrote any: where a resume within the phase starts.
std::filesystem::path checkpoints_of(const std::filesystem::path& phase_dir);

// The weights a finished phase left (its newest complete checkpoint) into `graph`: rank 0
// reads them, every rank gets them.
void load_phase_weights(const std::filesystem::path& phase_dir, Graph& graph, const Config& config,
                        Communicator& comm);

double seconds_since(std::chrono::steady_clock::time_point t0);

}  // namespace mt::tools
