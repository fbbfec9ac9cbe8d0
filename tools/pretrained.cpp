#include "tools/pretrained.h"

#include <algorithm>
#include <filesystem>
#include <ostream>
#include <set>

#include "core/safetensors.h"
#include "core/state_dict.h"
#include "layers/onnx_import.h"
#include "layers/zoo/model.h"
#include "tools/run_dir.h"
#include "trainers/checkpoint.h"

namespace mt::tools {

namespace fs = std::filesystem;

namespace {

// The tensors of model.weights: a safetensors file, or the model.safetensors of a checkpoint
// (one named directly, or a run's best), verified against the checkpoint's checksum.
SafetensorsContent read_weights(const std::string& path, std::string* described) {
  if (!fs::is_directory(path)) {
    *described = path;
    return read_safetensors(path);
  }
  const CheckpointLocation at = locate_checkpoint(path, "best");
  CheckpointManager manager({at.checkpoints.string(), 1, "", CheckpointAccess::read});
  std::string which = at.which;
  if (which == "best") which = manager.best().value_or("auto");
  const std::optional<std::string> dir = manager.resolve(which);
  MT_CHECK(dir.has_value(), ConfigError, "model.weights: '", path, "' holds no complete checkpoint");
  const std::optional<std::string> bytes = read_checkpoint_attachment(*dir, "model.safetensors");
  MT_CHECK(bytes.has_value(), IoError, "model.weights: checkpoint '", *dir, "' records no model.safetensors");
  *described = *dir + "/model.safetensors";
  return parse_safetensors(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size(), *described);
}

// The parameters structure learning adds to a network (a FiGS gate's logits, a ResRep
// compactor's weight): a pretrained file never has them.
std::set<std::string> added_by_structure_learning(const Graph& graph) {
  std::set<std::string> names;
  for (const Node& n : graph.nodes()) {
    if (n.op->kind() != OpKind::gate && n.op->kind() != OpKind::compactor) continue;
    for (ValueId v : n.inputs)
      if (graph.value(v).kind == ValueKind::param) names.insert(graph.value(v).name);
  }
  return names;
}

}  // namespace

namespace {

// Loads `tensors` (read from `file`) into the model with the strict or lenient report.
// `lenient_because` says in the log why what does not fit is skipped (strict false).
void load_named(const Config& config, layers::Model& model, const NamedTensors& tensors, const std::string& key,
                const std::string& file, bool strict, const std::string& lenient_because, std::ostream& log) {
  StateDictMatch match = match_state_dict(model.graph, tensors);
  const std::set<std::string> added = added_by_structure_learning(model.graph);
  const auto kept_initial = std::remove_if(match.missing.begin(), match.missing.end(),
                                           [&](const std::string& name) { return added.count(name) > 0; });
  const size_t initial = static_cast<size_t>(match.missing.end() - kept_initial);
  match.missing.erase(kept_initial, match.missing.end());

  const std::string report = state_dict_report(match, true);
  MT_CHECK(!strict || report.empty(), ConfigError, config.source(), ": ", key, ": '", file,
           "' does not fit model '", model.name, "' (model.weights_strict: false loads what fits):", report);
  MT_CHECK(!match.matched.empty(), ConfigError, config.source(), ": ", key, ": no tensor of '", file,
           "' fits model '", model.name, "':", report);
  load_matched(model.graph, tensors, match);
  log << key << ": loaded " << match.matched.size() << " tensors from " << file;
  if (initial) log << " (" << initial << " added by structure learning keep their initial values)";
  log << "\n";
  if (!report.empty()) log << key << ": not loaded (" << lenient_because << "):" << report << "\n";
  log.flush();
}

// model.name onnx without model.weights: the file's own initializers.
void load_onnx_weights(const Config& config, layers::Model& model, std::ostream& log) {
  if (!config.settings().model.structure.empty()) {
    log << "model.onnx: the network has model.structure's widths, so it starts from fresh weights "
           "(the file's are the dense network's)\n";
    return;
  }
  const std::vector<Shape> shapes = infer_value_shapes(model.graph, 1);
  const Shape& images = shapes[model.images];  // [1, C, H, W]
  layers::ModelOptions o;
  o.onnx_source = config.settings().model.onnx;
  o.in_channels = images[1];
  o.image_size = images[2];
  o.image_width = images[3];
  o.num_classes = shapes[model.logits][1];
  const layers::OnnxWeights weights = layers::onnx_initial_weights(o);
  for (const std::string& note : weights.notes) log << "model.onnx: " << note << "\n";
  // Strict unless a resized classifier is knowingly left out.
  load_named(config, model, weights.tensors, "model.onnx", o.onnx_source, weights.notes.empty(),
             "the resized classifier", log);
}

}  // namespace

void load_pretrained_weights(const Config& config, layers::Model& model, std::ostream& log) {
  const std::string& path = config.settings().model.weights;
  if (path.empty()) {
    if (config.settings().model.name == "onnx") load_onnx_weights(config, model, log);
    return;
  }
  const bool strict = config.settings().model.weights_strict;
  MT_CHECK(fs::exists(path), ConfigError, config.source(), ": model.weights: '", path, "' does not exist");
  std::string file;
  SafetensorsContent content;
  try {
    content = read_weights(path, &file);
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    MT_FAIL(ConfigError, config.source(), ": model.weights: cannot read '", path, "': ", e.what());
  }
  load_named(config, model, content.tensors, "model.weights", file, strict, "model.weights_strict is false", log);
}

}  // namespace mt::tools
