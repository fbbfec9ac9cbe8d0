#pragma once
// A network written in YAML: a list of layers, each a map
//
//   - {name: conv1, op: conv2d, out_channels: 16, kernel: 3, padding: 1}
//   - {name: add1, op: add, inputs: [bn2, relu1]}
//
// `inputs` names earlier layers or `images` (the network's input); without it a layer reads the
// previous layer's output (the first layer reads `images`). The last layer's output is the
// logits. The file may also be a map with the list under `layers:`. Ops and their attributes
// (defaults in parentheses, * required):
//   conv2d       out_channels*, kernel*, stride (1), padding (0), dilation (1), groups (1),
//                bias (false)
//   batchnorm2d  eps (1e-5), momentum (0.1)
//   linear       out_features* (the last layer: num_classes), bias (true)
//   maxpool2d    kernel*, stride (kernel), padding (0), ceil_mode (false)
//   avgpool2d    the same and count_include_pad (true)
//   channel_pad  pad_before (0), pad_after (0), stride (1)
//   dropout      p (0.5)
//   gate         temperature, init_logit, keep_first_channel_alive (the builder's gating options:
//                0.001, 2.5, true): a FiGS gate with the parameter `<name>.logits`
//   relu, sigmoid, relu6, hardsigmoid, hardswish, global_avgpool2d, flatten (one input); add,
//   mul (two; mul's second may be per channel: [C], [N, C] or [N, C, 1, 1]); concat (two or more)
// Errors are ConfigErrors that name the file, line:column, layer, and field.
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "layers/builder.h"

namespace mt::layers {

struct ModelOptions;

// With the builder's gating enabled, every batch norm after a conv2d and every hidden linear
// layer get their gate `<layer>.gate` (layers/builder.h); a conv2d without a batch norm gets none.
// Adds the layers after `images` and returns the last layer's output. `source_name` (the file)
// prefixes every message. With `options`, conv2d out_channels and the hidden linear layers'
// out_features pass through layer_width() (the multiplier and the per-layer `widths` map, keyed
// by layer name, so the reshaper can rebuild the net slimmer), the last layer's out_features
// defaults to num_classes, and the logits must have num_classes columns.
ValueId build_yaml_graph(ModelBuilder& b, ValueId images, const YAML::Node& layers,
                         const std::string& source_name, const ModelOptions* options = nullptr);

// Reads a YAML graph file (core/yaml_read.h): throws ConfigError naming the file, line and column
// on a syntax error, a key given twice in one mapping (and the line of the first) or nesting deeper
// than kMaxYamlDepth.
YAML::Node load_yaml_graph(const std::string& path);

// The op names the format knows, sorted.
std::vector<std::string> yaml_graph_ops();

}  // namespace mt::layers
