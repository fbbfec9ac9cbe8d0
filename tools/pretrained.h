#pragma once
// model.weights: a model's initial weights from a file instead of fresh ones, so that structure
// learning starts from a trained network (MorphNet's and ResRep's usual flow) and a plain run
// fine-tunes one. The file is a safetensors state_dict under PyTorch's names (what
// `safetensors.torch.save_file(model.state_dict(), path)` writes), or a morphtrain checkpoint
// directory, or a run directory (its best checkpoint), checked against the checkpoint's checksums.
//
// Strict by default, as PyTorch's load_state_dict: one error lists every missing, unexpected and
// shape-mismatched key and nothing is loaded. model.weights_strict: false loads the tensors that
// match and lists the rest. Parameters that structure learning adds to a network (FiGS gates'
// logits, ResRep's compactors) are never expected in the file: they keep their initial values
// (a compactor starts as the identity, so the pretrained function is unchanged).
#include <iosfwd>

#include "layers/zoo/model.h"
#include "tools/config.h"

namespace mt::tools {

// Loads model.weights into `model` (nothing when the key is empty) and says what it loaded on
// `log`. ConfigError naming the key and the file for a missing file or keys that do not fit.
void load_pretrained_weights(const Config& config, layers::Model& model, std::ostream& log);

}  // namespace mt::tools
