// `morphtrain --export OUT.onnx|OUT.safetensors [--from RUN_OR_CHECKPOINT]`: any model as a file
// another tool loads. With --from: a dense run's or a structure-file run's best checkpoint, one
// checkpoint directory, or a pipeline run's slim model; without it, the config's model with fresh
// weights (or model.weights). The run is only read.
#include <filesystem>
#include <iostream>

#include "tools/commands.h"
#include "tools/experiment.h"
#include "tools/onnx_export.h"
#include "tools/run_model.h"
#include "tools/training_phase.h"

namespace mt::tools {

namespace fs = std::filesystem;

namespace {

enum class ExportFormat { onnx, safetensors };

ExportFormat export_format(const std::string& out) {
  const std::string ext = fs::path(out).extension().string();
  if (ext == ".onnx") return ExportFormat::onnx;
  if (ext == ".safetensors") return ExportFormat::safetensors;
  MT_FAIL(ConfigError, "--export '", out, "': the file name must end in .onnx or .safetensors (the format)");
}

RunModel model_to_export(const Config& config, const Dataset& train, const std::string& from) {
  if (from.empty()) {
    const std::string& weights = config.settings().model.weights;
    return {configured_model(config, train), weights.empty() ? "fresh weights" : weights, 0, ""};
  }
  if (auto slim = load_pipeline_slim_model(config, train, from)) return std::move(*slim);
  return load_checkpointed_model(config, train, from, "best", std::cout);
}

}  // namespace

int export_command(const Config& config, const std::string& from, const std::string& out) {
  const ExportFormat format = export_format(out);
  const DataSplits data = load_data(config);
  const RunModel m = model_to_export(config, data.train, from);
  if (format == ExportFormat::onnx) {
    OnnxExportOptions o;
    o.metadata = {{"source", m.source}};
    if (!m.structure.empty()) o.metadata.emplace_back("structure", m.structure);
    export_onnx(m.model, out, o);
  } else {
    write_model_safetensors(out, m.model, m.structure);
  }
  std::cout << "exported " << m.model.name << " (" << m.model.graph.num_parameters() << " parameters) from "
            << m.source << (m.step ? " (step " + std::to_string(m.step) + ")" : std::string()) << " to " << out
            << std::endl;
  return 0;
}

}  // namespace mt::tools
