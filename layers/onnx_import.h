#pragma once
// ONNX import: a network as PyTorch's torch.onnx.export writes it (opsets 11 to 17, an eval-mode
// export) becomes a training graph built with ModelBuilder, and its initializers become the initial
// weights. Layers are named after the initializers, which PyTorch writes under the state_dict names
// ("layer1.0.conv1.weight" -> layer "layer1.0.conv1"), so checkpoints, structure files and the slim
// model's export keep the user's names. Export with training=torch.onnx.TrainingMode.PRESERVE to
// keep each BatchNormalization (a plain eval export folds it into the conv, which leaves MorphNet's
// batch-norm regularizer nothing to act on; FiGS gates and ResRep still can).
//
// The reading (protobuf, checker, shape inference) is Debian's libonnx; what each op becomes is
// onnx_import_ops.cpp. An op outside the set, or a use of it the engine cannot express, is an error
// naming the file, the node and its op type.
#include <string>
#include <vector>

#include "core/tensor.h"

namespace mt::layers {

struct ModelOptions;

// The ONNX op types the importer knows (for messages and docs).
std::vector<std::string> onnx_supported_ops();

// The initial weights of the network that build_onnx_model builds from o.onnx_source: every
// parameter and batch-norm buffer under the graph's names, in f32. `notes` says what was not taken
// from the file (a classifier resized to o.num_classes is left to its fresh initialisation).
struct OnnxWeights {
  NamedTensors tensors;
  std::vector<std::string> notes;
};
OnnxWeights onnx_initial_weights(const ModelOptions& o);

}  // namespace mt::layers
