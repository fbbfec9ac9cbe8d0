#include "tools/pipeline_state.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>

#include "core/atomic_file.h"
#include "core/json_read.h"
#include "trainers/checkpoint.h"
#include "trainers/data_parallel.h"

namespace mt::tools {

namespace fs = std::filesystem;

PipelineState::PipelineState(fs::path path, Communicator& comm) : path_(std::move(path)), writer_(comm.is_root()) {
  if (writer_) read();
  state_ = nlohmann::json::parse(broadcast_string(comm, state_.dump()));
}

void PipelineState::finish(const std::string& phase, nlohmann::json figures) {
  figures["done"] = true;
  state_[phase] = std::move(figures);
  if (writer_) write_file_atomically(path_.string(), state_.dump(2) + "\n");
}

void PipelineState::read() {
  if (!fs::exists(path_)) {  // written at once, so that `--resume auto` finds a run cut short
    write_file_atomically(path_.string(), "{}\n");
    return;
  }
  const std::optional<std::string> text = read_text_file(path_.string());
  MT_CHECK(text, IoError, "cannot read '", path_.string(), "'");
  std::string why;
  std::optional<nlohmann::json> parsed = try_parse_json(*text, why);
  MT_CHECK(parsed, IoError, "'", path_.string(), "' is not valid JSON (", why, "); remove it to restart the pipeline");
  state_ = std::move(*parsed);
}

nlohmann::json read_on_root(const fs::path& path, Communicator& comm, const char* hint) {
  std::string text;
  if (comm.is_root()) {
    std::ifstream in(path);
    MT_CHECK(in.good(), IoError, "'", path.string(), "' is missing: ", hint);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string why;
  std::optional<nlohmann::json> parsed = try_parse_json(broadcast_string(comm, text), why);
  MT_CHECK(parsed, IoError, "'", path.string(), "' is not valid JSON: ", why);
  return std::move(*parsed);
}

fs::path checkpoints_of(const fs::path& phase_dir) {
  return fs::exists(phase_dir / "checkpoints" / "last") ? phase_dir / "checkpoints" : fs::path{};
}

void load_phase_weights(const fs::path& phase_dir, Graph& graph, const Config& config, Communicator& comm) {
  if (comm.is_root()) {
    TrainerState unused;
    CheckpointManager phase({(phase_dir / "checkpoints").string(), 1, config.settings().model.name,
                             CheckpointAccess::read},
                            std::cout);
    phase.load("auto", graph, nullptr, unused);
  }
  broadcast_graph(comm, graph);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace mt::tools
