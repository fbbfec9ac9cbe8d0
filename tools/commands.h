#pragma once
// What the morphtrain command does, one function per mode; main.cpp only parses the command line.
// Each returns the process exit code and throws ConfigError (exit 2) or other errors (exit 1).
#include <string>

#include "tools/config.h"
#include "trainers/communicator.h"

namespace mt::tools {

// Trains as the config says into a new run directory, or with `resume` ("auto", a run directory
// or a checkpoint directory) continues a run where its checkpoint left it, in its run directory.
// Under mpirun every process calls it with its communicator (data parallel; rank 0 writes).
int train_command(const Config& config, const std::string& resume, Communicator& comm);

// Evaluates a checkpoint (a checkpoint directory, or a run directory: its best checkpoint) on the
// config's test set and prints loss and accuracy.
int evaluate_command(const Config& config, const std::string& checkpoint);

// Per op cost, regularization term and alive channels of the config's model (fresh weights or a
// checkpoint) for the config's morph.method (gamma when none) and morph.target.cost; printed
// and written to `json_path`.
int morph_report_command(const Config& config, const std::string& checkpoint, const std::string& json_path);

// Writes a model to `out` (.onnx: inference graph, batch norms folded; .safetensors: the
// state_dict under PyTorch's names): the model of `from` (a run directory's best checkpoint, a
// checkpoint directory, a pipeline run's slim model), or without `from` the config's model.
int export_command(const Config& config, const std::string& from, const std::string& out);

// The per-layer model summary (output shape, params, MACs, totals).
int summary_command(const Config& config);

}  // namespace mt::tools
