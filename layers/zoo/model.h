#pragma once
// The model zoo: every model is built into a Graph by name with one options struct, so that the
// reshaper can rebuild any of them with other widths (`widths`: layer name -> output channels).
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/graph.h"
#include "layers/builder.h"

namespace mt::layers {

struct ModelOptions {
  int64_t in_channels = 3;
  int64_t num_classes = 10;
  int64_t image_size = 32;          // inputs: in_channels x image_size x image_size, or
  int64_t image_width = 0;          // > 0: in_channels x image_size x image_width
  double width_multiplier = 1.0;
  std::map<std::string, int64_t> widths;  // per-layer override, e.g. {"layer1.0.conv1": 10}
  uint64_t seed = 0;
  DType dtype = DType::f32;
  double label_smoothing = 0;
  double dropout = 0;               // before the classifier, where the model has one
  // FiGS gates (layers/builder.h): `<conv>.gate` after every conv's batch norm and after every
  // hidden linear layer, never after the logits. Defaults: morph-net's LogisticSigmoidGating.
  bool gating = false;
  double gate_temperature = 0.001;
  double gate_init_logit = 2.5;     // log odds; sigmoid(2.5) = 92% open
  bool gate_keep_first_channel = true;  // channel 0 of every gate always open
  // ResRep compactors (layers/builder.h): `<conv>.compactor`, a 1x1 conv initialised to the
  // identity, after the batch norm of every conv with groups 1. Not together with gating.
  bool compactors = false;
  int depth = 20;                   // CIFAR ResNet: 6n + 2
  std::string shortcut = "A";       // CIFAR ResNet: A (zero-pad) or B (1x1 conv + BN)
  std::vector<int64_t> vgg_stages{32, 64, 128};  // VGG: channels per stage
  int vgg_convs_per_stage = 2;
  std::vector<int64_t> vgg_hidden{256};          // VGG: hidden classifier widths
  // The "yaml" model (layers/yaml_graph.h): its layer list, and the file named in its error
  // messages; with no graph_spec, graph_source is the path of a file to read it from.
  YAML::Node graph_spec;
  std::string graph_source;
  // The "onnx" model (layers/onnx_import.h): the .onnx file it is imported from.
  std::string onnx_source;
};

// A built model: the graph and its boundary values.
struct Model {
  std::string name;
  Graph graph;
  ValueId images = -1, labels = -1, logits = -1, loss = -1;
};

// The output channels of a layer: the per-layer override if any, else base x multiplier (at
// least 1).
int64_t layer_width(const ModelOptions& o, const std::string& layer, int64_t base);

// The builder's gating settings from the options. build_model applies them; a caller that runs a
// ModelFn on its own builder calls b.set_gating(gating_options(o)) first.
GatingOptions gating_options(const ModelOptions& o);

// Builds a model of the zoo by name (resnet20/32/44/56/110, resnet_cifar, resnet18/34/50, vgg,
// vgg_small, mobilenet_v1, mobilenet_v2, yaml). Throws ConfigError listing the known names.
Model build_model(const std::string& name, const ModelOptions& options);
std::vector<std::string> model_names();

// Registration, one call per zoo file: the builder adds the layers between images and logits.
using ModelFn = std::function<ValueId(ModelBuilder&, ValueId images, const ModelOptions&)>;
void register_model(const std::string& name, ModelFn fn);

}  // namespace mt::layers
