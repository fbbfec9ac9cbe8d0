#pragma once
// The report of a pipeline run: report.json, report.md and SVG plots in the run directory, and a
// summary for the terminal. Per layer the channels before -> after; FLOPs, parameters and latency
// before -> after with their ratios; the test accuracy of the learned and of the slim model; the
// wall time of each phase; the measured inference speed of both models; with a uniform baseline,
// the learned structure beside it at the same FLOPs.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "layers/zoo/model.h"
#include "tools/config.h"
#include "tools/experiment.h"

namespace mt::tools {

struct PipelineReport {
  nlohmann::json json;
  std::string markdown;
  std::string summary;  // a few lines for the terminal
};

struct ReportModels {
  const layers::Model& dense;               // what the slim model is compared with
  const layers::Model& slim;
  const layers::Model* baseline = nullptr;  // pipeline.baseline: uniform (tools/uniform_baseline.h)
};

// `state`: pipeline.json's figures. Writes report.json, report.md, plots/*.svg, slim.onnx.
PipelineReport pipeline_report(const Config& config, const ReportModels& models, const DataSplits& data,
                               const std::filesystem::path& run, const nlohmann::json& state);

// The slim model's weights under PyTorch names, with its structure (the structure file's JSON)
// and the model name in the metadata: what a PyTorch user needs to rebuild and load it.
void write_slim_safetensors(const std::string& path, const layers::Model& slim,
                            const std::filesystem::path& structure_file);

// Inference images per second of each model in eval mode (batch `batch`, random inputs), the
// two alternated in rounds so that machine noise hits both alike; the median round of each.
// With `profiles`, also each model's per-op timing table (Executor::profile_report).
std::pair<double, double> inference_speed(layers::Model& a, layers::Model& b, int64_t batch, int rounds = 5,
                                          std::pair<std::string, std::string>* profiles = nullptr);

}  // namespace mt::tools
