#pragma once
// What every channel of a compactor model carries, in eval mode, once the masked compactor rows
// are zero: a constant (the same value at every position, for every input) or "varies" (NaN).
//
// A masked row makes its channel 0 everywhere. Downstream of it the channel stays 0 through
// ReLUs, pooling, adds of other zeros and depthwise convs, but a batch norm turns it into a
// constant beta - mean x gamma / sqrt(var + eps): in MobileNet-v2 a masked expansion channel
// reaches the projection conv as relu(that constant). The merge removes such channels and adds
// what they contributed to the consumer's bias, so it must know the constants.
//
// Rules, per channel (features for 2-D values): compactor: 0 on masked rows; batchnorm2d: its
// eval affine map; relu, sigmoid, relu6, hardsigmoid, hardswish: the function; dropout:
// unchanged; pooling: unchanged where the window average or max of a constant is that constant
// (no padding, count_include_pad off, or the constant 0); global average pool, flatten:
// unchanged (flatten repeats it per feature);
// depthwise conv: 0 -> its bias (or 0), c -> c x sum of the filter + bias without padding; add,
// mul (by a constant or a [C] parameter), concat, channel_pad (its padding is 0): elementwise.
// Everything else varies.
#include <vector>

#include "morph/channel_groups.h"

namespace mt::morph {

// Per value of the graph (indexed by ValueId; empty outside the analysed part): per channel the
// constant, or NaN. `masked` holds one bit per channel group of `groups`.
std::vector<std::vector<double>> masked_constants(const ChannelGroups& groups, const std::vector<bool>& masked);

}  // namespace mt::morph
