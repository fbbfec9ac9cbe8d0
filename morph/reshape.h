#pragma once
// The reshaper: the dense model and a channel selection in, a physically slimmer (or, with
// copies > 1, wider) model out, with the same topology, op kinds, node names and state_dict
// names, every tensor sized to the channels it keeps.
//
// What changes where a channel group shrinks (channel_plan.h fixes the channel order):
//   conv2d       output rows of weight and bias; input columns of the weight (groups 1); a
//                depthwise conv shrinks with its input and gets groups = its new width; other
//                grouped convs are never touched (channel_groups.h pins them)
//   linear       rows of weight and bias; columns of the weight, including after a flatten of a
//                pooled map (each removed channel takes its H x W columns with it)
//   batchnorm2d  weight, bias, running_mean, running_var (num_batches_tracked is kept)
//   gate         its logits (gates stay in the model, sliced)
//   mul          a per-channel parameter scale
//   channel_pad  pad_before / pad_after count the kept zero channels on each side
//   concat, add, pooling, relu, flatten ...: nothing to slice; shapes follow.
// Kept channels copy their dense weights, so when the removed channels were dead (exactly zero
// after their batch norm) the slim model computes what the dense model computes.
//
// A value that would lose every channel keeps one (revive_empty_values, channel_selection.h):
// the result lists those. Whole residual branches are never removed.
#include <string>
#include <vector>

#include "layers/zoo/model.h"
#include "morph/channel_selection.h"

namespace mt::morph {

enum class ReshapeInit : uint8_t {
  copy,   // kept channels copy the dense weights (fine-tuning); new copies start fresh
  fresh,  // every parameter starts fresh, as the zoo's builders would (MorphNet's retraining)
};

struct ReshapeOptions {
  ReshapeInit init = ReshapeInit::copy;
  uint64_t seed = 0;             // fresh initialisation
  double gate_init_logit = 2.5;  // fresh gate logits (layers/builder.h's default)
};

struct Reshaped {
  layers::Model model;
  ChannelSelection selection;         // what was built: the request plus revived groups
  std::vector<std::string> revived;   // one line per revived group
};

// Fresh parameters follow layers/builder.h: convs Kaiming normal (fan out), conv biases and
// linears PyTorch's uniform(1/sqrt(fan in)), batch norms weight 1 and bias 0 with running
// statistics 0 and 1, gates `gate_init_logit`, mul scales 1. Throws ShapeError when the
// selection does not fit the model or an op of unknown kind would have to change.
Reshaped reshape_model(const layers::Model& dense, const ChannelSelection& keep,
                       const ReshapeOptions& options = {});
// The model only; revivals are dropped (see reshape_model).
layers::Model reshape(const layers::Model& dense, const ChannelSelection& keep);

}  // namespace mt::morph
