// A configurable VGG-style net (Simonyan & Zisserman 2015, with BN): per stage
// `vgg_convs_per_stage` x (conv3x3 - BN - ReLU) and a 2x2 max pool; then flatten, the hidden
// linear layers (each Linear - ReLU [- Dropout when options.dropout > 0]) and the classifier.
// "vgg_small" is the default configuration (32/64/128 x 2 convs, FC 256), the same network as
// VGGSmall in notes/bench/models.py: 814,570 parameters at 3x32x32, 584,618 at 1x28x28.
//
// Names follow the two nn.Sequential containers PyTorch would number: features.0 conv,
// features.1 bn, features.2 relu, ..., features.6 maxpool, features.7 conv, ...; classifier.0
// Linear, classifier.1 ReLU, (classifier.2 Dropout,) then the next Linear.
//
// Width keys (ModelOptions.widths): every conv's and every hidden linear's own name
// ("features.0", "features.3", ..., "classifier.0"); no widths are tied.
// With options.gating, each hidden linear gets its gate (`classifier.0.gate`) before the ReLU;
// the convs get theirs from the builder's batchnorm2d.
#include "layers/zoo/zoo_models.h"

namespace mt::layers {

namespace {
std::string at(const char* container, int index) {
  return std::string(container) + "." + std::to_string(index);
}

ValueId vgg_features(ModelBuilder& b, ValueId x, const ModelOptions& o) {
  int i = 0;
  ConvOptions c;
  c.padding = 1;
  for (int64_t stage : o.vgg_stages) {
    for (int k = 0; k < o.vgg_convs_per_stage; ++k) {
      const std::string conv = at("features", i);
      x = b.conv2d(conv, x, layer_width(o, conv, stage), 3, c);
      x = b.batchnorm2d(at("features", i + 1), x);
      x = b.relu(at("features", i + 2), x);
      i += 3;
    }
    x = b.maxpool2d(at("features", i++), x, 2);
  }
  return x;
}

ValueId vgg_classifier(ModelBuilder& b, ValueId x, const ModelOptions& o) {
  int i = 0;
  for (int64_t hidden : o.vgg_hidden) {
    const std::string fc = at("classifier", i);
    x = b.gate_hidden(fc, b.linear(fc, x, layer_width(o, fc, hidden)));
    x = b.relu(at("classifier", i + 1), x);
    i += 2;
    if (o.dropout > 0) x = b.dropout(at("classifier", i++), x, o.dropout);
  }
  return b.linear(at("classifier", i), x, o.num_classes);
}
}  // namespace

ValueId build_vgg(ModelBuilder& b, ValueId x, const ModelOptions& o) {
  MT_CHECK(!o.vgg_stages.empty() && o.vgg_convs_per_stage >= 1, ConfigError,
           "VGG needs at least one stage and one conv per stage, got ", o.vgg_stages.size(),
           " stages of ", o.vgg_convs_per_stage, " convs");
  for (int64_t w : o.vgg_stages)
    MT_CHECK(w >= 1, ConfigError, "VGG stage widths must be >= 1, got ", w);
  // Each stage halves the image; one that reaches 0 pixels is a configuration error, not a
  // shape error deep in a pooling op.
  const int64_t size = b.shape(x)[2];
  const size_t stages = o.vgg_stages.size();
  MT_CHECK(stages < 31 && (size >> stages) >= 1, ConfigError, "VGG with ", stages,
           " stages needs images of at least 2^", stages, " pixels, got ", size);
  const ValueId features = vgg_features(b, x, o);
  return vgg_classifier(b, b.flatten("flatten", features), o);
}

ValueId build_vgg_small(ModelBuilder& b, ValueId x, const ModelOptions& o) {
  ModelOptions small = o;
  const ModelOptions defaults;
  small.vgg_stages = defaults.vgg_stages;
  small.vgg_convs_per_stage = defaults.vgg_convs_per_stage;
  small.vgg_hidden = defaults.vgg_hidden;
  return build_vgg(b, x, small);
}

}  // namespace mt::layers
