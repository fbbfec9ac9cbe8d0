#pragma once
// ResRep's "Rep": the compactor model and its masks in, a plain slim model out (no compactors,
// fewer channels, the zoo's topology and names), computing in eval mode what the compactor model
// computes with its masked rows at zero (rr/resrep_convert.py compactor_convert).
//
// For each conv with a compactor Q (rows = output channels) and batch norm (gamma, beta, mean,
// var, eps), with s = gamma / sqrt(var + eps):
//   W'  = s x W (per output channel)         b'  = beta + s x (bias + delta - mean)
//   W'' = Q W'  (over the output channels)   b'' = Q b'
// where the masked rows of Q count as zero, bias is the conv's own (0 if none) and delta what the
// removed input channels contributed (below). Then the masked groups' channels are removed from
// every value, as the reshaper removes dead channels (reshape.h), and the kept rows and input
// columns of W'' become the slim conv's weight.
//
// The slim model keeps the zoo's batch norms, so that it is again a zoo model the pipeline can
// retrain, export and summarise: each merged conv's batch norm becomes an exact identity plus
// the merged bias, running_mean 0, running_var 1, weight sqrt(1 + eps), bias b'', so that
// BN(x) = (x - 0) / sqrt(1 + eps) x sqrt(1 + eps) + b'' = x + b''. (Fine-tuning it in train
// mode renormalises with batch statistics, as any batch norm does.)
//
// Removed channels. Once its compactor rows are zero a masked channel carries a constant (0, or
// after a later batch norm beta - mean x gamma / sqrt(var + eps); masked_constants.h). A consumer
// that loses such an input channel (a conv with groups 1 or a linear layer) gets constant x
// (the sum of that channel's filter taps) added to its output: folded into b'' for a merged
// conv, else into the consumer's bias, else into the running mean of the batch norm it feeds.
// That is what keeps MobileNet-v2 exact, where a masked expansion channel reaches the projection
// conv as relu(the depthwise batch norm's constant). Where exactness cannot hold (a constant
// entering a padded conv, a channel that varies) the merge still removes the channel and says
// so in `inexact`; the zoo models never trigger it.
#include <string>
#include <vector>

#include "layers/zoo/model.h"
#include "morph/channel_selection.h"

namespace mt::morph {

struct MergeResult {
  layers::Model model;                // slim, without compactors
  ChannelSelection selection;         // what was built: unmasked groups plus revived ones
  std::vector<std::string> revived;   // groups kept so that no value loses every channel
  std::vector<std::string> inexact;   // where the slim model departs from the compactor model
  std::vector<std::string> identity_batchnorms;  // the merged convs' batch norms (x + bias)
};

// `masked`: one bit per channel group of ChannelGroups(dense.graph, dense.logits). Throws
// ShapeError for a wrong length, a masked group ResRep cannot prune (compactors.h), or a
// compactor that cannot be folded.
MergeResult merge_compactors(const layers::Model& dense, const std::vector<bool>& masked);

// Gives the identity batch norms of a merged model real statistics without changing what it
// computes in eval mode: call once, right after re-estimating their running statistics on data
// (the trainer's batch-norm recalibration), before any training. Each gets weight sqrt(var + eps)
// and bias (the merged bias) + running_mean, so that eval mode still computes x + the merged
// bias, and train mode, normalising with batch statistics close to the running ones, nearly
// so: the slim model can then be fine-tuned from where the merge left it.
void rebase_identity_batchnorms(Graph& slim, const std::vector<std::string>& batchnorms);

// The model with every compactor node and weight removed (its readers read its input), all
// else unchanged: what the merge reshapes, and the model ResRep started from.
layers::Model strip_compactors(const layers::Model& model);

}  // namespace mt::morph
