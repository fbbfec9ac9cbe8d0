// Loading checkpoints: validation of every file before anything is touched, the all-or-nothing
// apply, and "auto" with its fallback to older complete checkpoints.
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/json_read.h"
#include "core/safetensors.h"
#include "core/state_dict.h"
#include "trainers/checkpoint.h"
#include "trainers/checkpoint_checksums.h"
#include "trainers/checkpoint_detail.h"

namespace mt {

namespace fs = std::filesystem;
using namespace checkpoint_detail;

namespace checkpoint_detail {

uint32_t crc32_of(const std::vector<const Tensor*>& tensors) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  for (const Tensor* t : tensors) {
    const Tensor rows = t->layout() == Layout::nchw ? *t : t->to(Layout::nchw);
    crc = extend_crc32(static_cast<uint32_t>(crc), rows.raw(), rows.nbytes());
  }
  return static_cast<uint32_t>(crc);
}

std::string hex32(uint32_t value) {
  char s[16];
  std::snprintf(s, sizeof s, "%08x", value);
  return s;
}

}  // namespace checkpoint_detail

namespace {

// Everything a checkpoint holds, read and validated, not yet applied.
struct Staged {
  SafetensorsContent model, optimizer;
  TrainerState state;
  double test_accuracy = 0;
};

const std::string& meta(const SafetensorsContent& c, const std::string& key, const fs::path& file) {
  auto it = c.metadata.find(key);
  MT_CHECK(it != c.metadata.end(), IoError, "[checkpoint] '", file.string(),
           "': metadata has no '", key, "' entry; not a morphtrain checkpoint file");
  return it->second;
}

void check_model_file(const SafetensorsContent& model, const fs::path& file) {
  MT_CHECK(meta(model, "format", file) == "pt", IoError, "[checkpoint] '", file.string(),
           "': metadata format '", meta(model, "format", file), "', expected 'pt'");
  std::vector<const Tensor*> in_file_order;
  for (const auto& [name, t] : model.tensors) in_file_order.push_back(&t);
  const std::string actual = hex32(crc32_of(in_file_order));
  const std::string& recorded = meta(model, "data_crc32", file);
  MT_CHECK(actual == recorded, IoError, "[checkpoint] '", file.string(),
           "': CRC32 mismatch: metadata records ", recorded, ", the data has ", actual,
           "; the file is corrupted");
}

TrainerState read_state(const fs::path& file, double* test_accuracy,
                        std::map<std::string, std::string>* file_crcs) {
  const std::optional<std::string> text = read_text_file(file.string());
  MT_CHECK(text, IoError, "[checkpoint] cannot open '", file.string(), "'");
  std::string why;
  const std::optional<nlohmann::json> parsed = try_parse_json(*text, why);
  MT_CHECK(parsed, IoError, "[checkpoint] '", file.string(), "' is not valid JSON: ", why);
  const nlohmann::json& j = *parsed;
  TrainerState state = trainer_state_from_json(j, file.string());
  MT_CHECK(j.contains("test_accuracy") && j["test_accuracy"].is_number(), IoError,
           "[trainer_state] ", file.string(), ": missing key 'test_accuracy'");
  *test_accuracy = j["test_accuracy"].get<double>();
  *file_crcs = verify_state_json(j, file.string());
  return state;
}

// The file's bytes, checked against the CRC trainer_state.json records for it.
std::vector<uint8_t> read_checked(const fs::path& dir, const std::string& name,
                                  const std::map<std::string, std::string>& crcs) {
  const auto it = crcs.find(name);
  MT_CHECK(it != crcs.end(), IoError, "[checkpoint] '", (dir / kStateFile).string(),
           "' records no checksum for '", name, "'; the checkpoint is incomplete or corrupted");
  const std::string path = (dir / name).string();
  std::vector<uint8_t> bytes = read_file_bytes(path);
  verify_file_crc(path, bytes, it->second);
  return bytes;
}

Staged read_checkpoint(const fs::path& dir, const Optimizer* optimizer) {
  MT_CHECK(fs::is_directory(dir), IoError, "[checkpoint] '", dir.string(), "' is not a directory");
  Staged s;
  std::map<std::string, std::string> crcs;
  s.state = read_state(dir / kStateFile, &s.test_accuracy, &crcs);
  // Every file the state names is checked, used or not: a checkpoint is intact or rejected.
  for (const auto& [name, crc] : crcs)
    if (name != kModelFile && name != kOptimizerFile) read_checked(dir, name, crcs);
  const fs::path model_file = dir / kModelFile;
  const std::vector<uint8_t> model_bytes = read_checked(dir, kModelFile, crcs);
  s.model = parse_safetensors(model_bytes.data(), model_bytes.size(), model_file.string());
  check_model_file(s.model, model_file);
  const std::string step = meta(s.model, "step", model_file);
  MT_CHECK(step == std::to_string(s.state.step), IoError, "[checkpoint] '", dir.string(),
           "': model.safetensors is from step ", step, " but trainer_state.json from step ",
           s.state.step, "; the files do not belong together");
  const fs::path file = dir / kOptimizerFile;
  const std::vector<uint8_t> optimizer_bytes = read_checked(dir, kOptimizerFile, crcs);
  if (optimizer) {
    s.optimizer = parse_safetensors(optimizer_bytes.data(), optimizer_bytes.size(), file.string());
    const std::string& who = meta(s.optimizer, "optimizer", file);
    MT_CHECK(who == optimizer->name(), IoError, "[checkpoint] '", file.string(), "' holds ", who,
             " state; the run's optimizer is ", optimizer->name());
  }
  return s;
}

// Graph first, then optimizer; when the optimizer refuses its state, the graph gets its old
// tensors back, so a failure changes nothing.
void apply(Staged& s, Graph& graph, Optimizer* optimizer, TrainerState& state) {
  NamedTensors backup;
  if (optimizer)
    for (const auto& [name, t] : graph.state_dict()) backup.emplace_back(name, t.clone());
  load_state_dict(graph, s.model.tensors, /*strict=*/true);
  if (optimizer) {
    try {
      optimizer->load_state_dict(s.optimizer.tensors);
    } catch (...) {
      load_state_dict(graph, backup, true);
      throw;
    }
  }
  state = std::move(s.state);
}

}  // namespace

CheckpointLoad load_checkpoint(const std::string& path, Graph& graph, Optimizer* optimizer,
                               TrainerState& state) {
  try {
    Staged staged = read_checkpoint(path, optimizer);
    CheckpointLoad result{path, staged.state.step, staged.test_accuracy, {}};
    apply(staged, graph, optimizer, state);
    return result;
  } catch (const std::exception& e) {  // filesystem and JSON errors too
    MT_FAIL(IoError, "[checkpoint] cannot load '", path, "': ", e.what());
  }
}

std::optional<std::string> read_checkpoint_attachment(const std::string& path, const std::string& name) {
  try {
    double accuracy = 0;
    std::map<std::string, std::string> crcs;
    read_state(fs::path(path) / kStateFile, &accuracy, &crcs);
    if (!crcs.count(name)) return std::nullopt;
    const std::vector<uint8_t> bytes = read_checked(path, name, crcs);
    return std::string(bytes.begin(), bytes.end());
  } catch (const std::exception& e) {
    MT_FAIL(IoError, "[checkpoint] cannot read '", name, "' of '", path, "': ", e.what());
  }
}

CheckpointLoad CheckpointManager::load(const std::string& which, Graph& graph,
                                       Optimizer* optimizer, TrainerState& state) {
  if (which == "auto") return load_auto(graph, optimizer, state);
  const fs::path under = fs::path(options_.dir) / which;
  const bool is_name = !fs::exists(which) && fs::exists(under);
  return load_checkpoint(is_name ? under.string() : which, graph, optimizer, state);
}

CheckpointLoad CheckpointManager::load_auto(Graph& graph, Optimizer* optimizer,
                                            TrainerState& state) {
  std::vector<std::string> warnings, candidates;
  const std::optional<std::string> pointed = last();
  if (pointed) {
    candidates.push_back((fs::path(options_.dir) / *pointed).string());
  } else if (fs::exists(fs::path(options_.dir) / "last")) {
    warnings.push_back("the 'last' pointer in '" + options_.dir + "' is unreadable");
  }
  std::vector<std::string> others = list();
  std::reverse(others.begin(), others.end());  // newest first
  for (const auto& p : others)
    if (candidates.empty() || p != candidates.front()) candidates.push_back(p);
  MT_CHECK(!candidates.empty(), IoError, "[checkpoint] no checkpoint to resume from in '",
           options_.dir, "'");
  for (const auto& path : candidates) {
    try {
      CheckpointLoad result = load_checkpoint(path, graph, optimizer, state);
      result.warnings = warnings;
      for (const auto& w : warnings) log_ << "[checkpoint] warning: " << w << "\n";
      return result;
    } catch (const IoError& e) {
      warnings.push_back("skipping unusable checkpoint '" + path + "', falling back to an " +
                         "earlier one: " + e.what());
    }
  }
  std::string report;
  for (const auto& w : warnings) report += "\n  " + w;
  MT_FAIL(IoError, "[checkpoint] no usable checkpoint in '", options_.dir, "':", report);
}

}  // namespace mt
