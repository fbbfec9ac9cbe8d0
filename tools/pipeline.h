#pragma once
// The product's main job in one command: learn the structure (training with the morph
// regularizer), reshape to the slim model, retrain it, and report. One run directory:
//
//   <run>/config.yaml        the resolved config
//   <run>/pipeline.json      which phases are done, with their figures (resume continues there)
//   <run>/learn/             metrics, checkpoints, structure history of structure learning
//   <run>/structure.json     the structure built (morph/structure_file.h), learned_structure.json
//   <run>/retrain/           metrics and checkpoints of the slim model's training
//   <run>/report.md, report.json, plots/*.svg, slim.safetensors, slim.onnx
#include <string>

#include "tools/config.h"
#include "trainers/communicator.h"

namespace mt::tools {

// Whether the config asks for the pipeline (pipeline.retrain is scratch or finetune).
bool pipeline_enabled(const Config& config);
// `resume`: as train_command's; a phase already done is not run again. Under mpirun every
// process calls it: both training phases run data parallel, rank 0 decides the structure and
// writes every file, and every rank builds the same slim model from rank 0's structure.
int pipeline_command(const Config& config, const std::string& resume, Communicator& comm);

}  // namespace mt::tools
