#include "tools/run_model.h"

#include <map>
#include <ostream>

#include "core/json_read.h"
#include "core/safetensors.h"
#include "core/state_dict.h"
#include "morph/reshape.h"
#include "morph/structure_file.h"
#include "tools/experiment.h"
#include "tools/run_dir.h"
#include "tools/training_phase.h"
#include "trainers/checkpoint.h"

namespace mt::tools {

namespace fs = std::filesystem;

RunModel load_checkpointed_model(const Config& config, const Dataset& train, const std::string& path,
                                 const std::string& prefer, std::ostream& log) {
  const CheckpointLocation at = locate_checkpoint(path, prefer);
  // A reader: the run may still be training, and its `*.tmp` may be a save in progress.
  CheckpointManager manager({at.checkpoints.string(), 1, config.settings().model.name, CheckpointAccess::read},
                            log);
  std::string which = at.which;
  if (which == "best") which = manager.best().value_or("auto");  // no best pointer: the newest
  const std::optional<std::string> resolved = manager.resolve(which);
  // The architecture the checkpoint stores (a pruned run's structure), not the config's path.
  RunModel out{checkpoint_model(config, train, resolved), "", 0, ""};
  if (resolved) out.structure = read_checkpoint_attachment(*resolved, kStructureAttachment).value_or("");
  TrainerState state;
  const CheckpointLoad loaded = manager.load(which, out.model.graph, nullptr, state);
  for (const std::string& w : loaded.warnings) log << "warning: " << w << "\n";
  out.source = loaded.path;
  out.step = loaded.step;
  return out;
}

std::optional<RunModel> load_pipeline_slim_model(const Config& config, const Dataset& train, const fs::path& path) {
  const fs::path structure = path / "structure.json", weights = path / "slim.safetensors";
  if (!fs::exists(path / "pipeline.json") || !fs::exists(weights)) return std::nullopt;
  // The slim model is the plain network (ResRep's compactors merged away) reshaped to the
  // structure, as the pipeline built it.
  const layers::Model plain = plain_model(config, train);
  const std::optional<std::string> text = read_text_file(structure.string());
  MT_CHECK(text.has_value(), IoError, "pipeline run '", path.string(), "' has slim.safetensors but no readable ",
           "structure.json");
  morph::ReshapeOptions ro;
  ro.init = morph::ReshapeInit::fresh;
  RunModel out{morph::reshape_model(plain, morph::parse_structure(*text, structure.string(), plain), ro).model,
               weights.string(), 0, *text};
  load_state_dict(out.model.graph, read_safetensors(weights.string()).tensors);
  return out;
}

void write_model_safetensors(const std::string& path, const layers::Model& model, const std::string& structure) {
  NamedTensors tensors;
  for (auto& [name, t] : model.graph.state_dict()) tensors.emplace_back(name, t);
  std::map<std::string, std::string> metadata{{"format", "pt"}, {"model", model.name}};
  if (!structure.empty()) metadata["structure"] = structure;
  write_safetensors(path, tensors, metadata);
}

std::optional<fs::path> run_config_of(const fs::path& path) {
  fs::path dir = fs::absolute(path).lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();
  for (int up = 0; up <= 3 && !dir.empty(); ++up, dir = dir.parent_path()) {
    if (fs::exists(dir / "config.yaml")) return dir / "config.yaml";
    if (dir == dir.parent_path()) break;
  }
  return std::nullopt;
}

}  // namespace mt::tools
