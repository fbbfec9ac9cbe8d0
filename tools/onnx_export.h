#pragma once
// Export of a model's inference graph (images -> logits) to ONNX: ir_version 7, opset 13 (the
// pairing PyTorch 1.13 emits; notes/ecosystem.md section 3), weights as float32 initializers.
// Evaluation semantics: a batch norm whose input comes from a convolution read by nothing else is
// folded into that convolution (as the eval executor runs it); other batch norms become
// BatchNormalization; dropout disappears; a gate becomes a Mul by its evaluation values
// (sigmoid(logit) where logit > 0, else 0) computed now. The loss and the labels are left out.
#include <string>
#include <utility>
#include <vector>

#include "layers/zoo/model.h"

namespace mt::tools {

struct OnnxExportOptions {
  bool fold_batchnorm = true;          // false: every batch norm stays a BatchNormalization
  std::string batch_dim = "batch";     // the symbolic name of the first dimension
  std::string producer_version;        // ModelProto.producer_version (e.g. the build's version)
  std::vector<std::pair<std::string, std::string>> metadata;  // ModelProto.metadata_props
};

// The serialized ModelProto. Throws ConfigError naming the node and its kind for an op ONNX
// export does not support, or an option it cannot express exactly.
std::string onnx_model_bytes(const layers::Model& model, const OnnxExportOptions& o = {});

// Writes onnx_model_bytes to `path` atomically (core/atomic_file.h).
void export_onnx(const layers::Model& model, const std::string& path, const OnnxExportOptions& o = {});

}  // namespace mt::tools
