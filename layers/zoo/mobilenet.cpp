// MobileNets.
//
// mobilenet_v1 (Howard et al. 2017, table 1): a 3x3/2 conv of 32, 13 depthwise-separable blocks
// (3x3 depthwise - BN - ReLU, 1x1 pointwise - BN - ReLU), global average pool, fc. 1000 classes
// at width 1: 4,231,976 parameters. torchvision has no v1; our names follow its v2's layout:
//   features.0.0 conv, features.0.1 bn, features.0.2 relu            the stem
//   features.i.0 depthwise conv, .1 bn, .2 relu, .3 pointwise conv, .4 bn, .5 relu   (i = 1..13)
//   avgpool, flatten, dropout (when options.dropout > 0), fc
// Width keys: "features.0" (the stem, 32) and "features.i" (block i's pointwise conv; 64, 128,
// 128, 256, 256, 512 x 6, 1024, 1024); the depthwise convs keep their input's width. Nothing is
// tied. The multiplier scales every width (Howard's alpha).
//
// mobilenet_v2 (Sandler et al. 2018) exactly as torchvision's module tree: features.0 the
// 3x3/2 stem (features.0.0 conv, .1 bn), features.1..17 inverted residuals (features.i.conv.0 the
// 1x1 expansion conv-BN when t != 1, then the 3x3 depthwise conv-BN, the 1x1 projection conv and
// its BN: features.17.conv.2.weight, features.17.conv.3.running_var), features.18 the 1x1 conv
// to 1280, classifier.1 the Linear (classifier.0 a dropout when options.dropout > 0; torchvision
// uses p = 0.2). Widths are torchvision's make_divisible(c x multiplier, 8).
// NB: torchvision's activations are ReLU6; we have no relu6 op and use ReLU, so parameter names
// and counts match torchvision (3,504,872 at 1000 classes) but pretrained weights will not give
// torchvision's outputs.
// Width keys: "features.0" (the stem), "features.i" for the first block i of each stage
// (1, 2, 4, 7, 11, 14, 17): the output width of the whole stage, which the residual adds tie;
// "features.i.conv.0" the expanded width of block i (t != 1; default round(in x t)), kept by its
// depthwise conv; "features.18" the last conv (1280 x max(1, multiplier)).
#include <cmath>

#include "layers/zoo/zoo_models.h"

namespace mt::layers {

namespace {
ValueId conv_bn_relu(ModelBuilder& b, const std::string& p, ValueId x, int64_t out, int kernel,
                     int stride, int groups = 1) {
  ConvOptions c;
  c.stride = stride;
  c.padding = kernel / 2;
  c.groups = groups;
  return b.relu(p + ".2", b.batchnorm2d(p + ".1", b.conv2d(p + ".0", x, out, kernel, c)));
}

// The per-layer override where there is one, else the width the architecture computes.
int64_t width_or(const ModelOptions& o, const std::string& key, int64_t computed) {
  return o.widths.count(key) ? layer_width(o, key, computed) : computed;
}

// torchvision's _make_divisible: round to the nearest multiple of 8, never below 8 nor more
// than 10% under v.
int64_t make_divisible(double v) {
  constexpr int64_t d = 8;
  int64_t n = std::max<int64_t>(d, static_cast<int64_t>(v + d / 2.0) / d * d);
  if (static_cast<double>(n) < 0.9 * v) n += d;
  return n;
}

ValueId separable_block(ModelBuilder& b, const std::string& p, ValueId x, int64_t out, int stride) {
  ConvOptions dw;
  dw.stride = stride;
  dw.padding = 1;
  dw.groups = static_cast<int>(b.channels(x));
  ValueId y = b.conv2d(p + ".0", x, b.channels(x), 3, dw);
  y = b.relu(p + ".2", b.batchnorm2d(p + ".1", y));
  y = b.conv2d(p + ".3", y, out, 1);
  return b.relu(p + ".5", b.batchnorm2d(p + ".4", y));
}

struct InvertedResidual {
  int64_t out;     // output channels
  int stride;
  int expand;      // t
  bool residual;
};

ValueId inverted_residual(ModelBuilder& b, const std::string& p, ValueId x,
                          const InvertedResidual& r, const ModelOptions& o) {
  const int64_t in = b.channels(x);
  ValueId y = x;
  int i = 0;  // index in the block's nn.Sequential `conv`
  int64_t hidden = in;
  if (r.expand != 1) {
    hidden = width_or(o, p + ".conv.0", std::llround(static_cast<double>(in) * r.expand));
    y = conv_bn_relu(b, p + ".conv.0", y, hidden, 1, 1);
    i = 1;
  }
  y = conv_bn_relu(b, p + ".conv." + std::to_string(i), y, hidden, 3, r.stride,
                   static_cast<int>(hidden));
  y = b.conv2d(p + ".conv." + std::to_string(i + 1), y, r.out, 1);
  y = b.batchnorm2d(p + ".conv." + std::to_string(i + 2), y);
  return r.residual ? b.add(p + ".add", x, y) : y;
}

ValueId classifier(ModelBuilder& b, ValueId x, const ModelOptions& o, const std::string& dropout,
                   const std::string& fc) {
  x = b.flatten("flatten", b.global_avgpool2d("avgpool", x));
  if (o.dropout > 0) x = b.dropout(dropout, x, o.dropout);
  return b.linear(fc, x, o.num_classes);
}
}  // namespace

ValueId build_mobilenet_v1(ModelBuilder& b, ValueId x, const ModelOptions& o) {
  // (output channels, stride) of the 13 depthwise-separable blocks.
  static const std::pair<int64_t, int> blocks[] = {
      {64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2},  {512, 1},
      {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};
  ValueId y = conv_bn_relu(b, "features.0", x, layer_width(o, "features.0", 32), 3, 2);
  int i = 1;
  for (const auto& [out, stride] : blocks) {
    const std::string p = "features." + std::to_string(i++);
    y = separable_block(b, p, y, layer_width(o, p, out), stride);
  }
  return classifier(b, y, o, "dropout", "fc");
}

ValueId build_mobilenet_v2(ModelBuilder& b, ValueId x, const ModelOptions& o) {
  struct Stage { int t; int64_t c; int n; int s; };
  static const Stage stages[] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                 {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
  const double m = o.width_multiplier;
  // torchvision decides each residual from the widths at this multiplier; we decide it from the
  // same widths before any per-layer override, so a reshaped net keeps its topology.
  int64_t base_in = make_divisible(32 * m);
  ValueId y = conv_bn_relu(b, "features.0", x, width_or(o, "features.0", base_in), 3, 2);
  int i = 1;
  for (const Stage& st : stages) {
    const int64_t base_out = make_divisible(static_cast<double>(st.c) * m);
    const int64_t out = width_or(o, "features." + std::to_string(i), base_out);
    for (int k = 0; k < st.n; ++k, ++i) {
      InvertedResidual r{out, k == 0 ? st.s : 1, st.t, false};
      r.residual = r.stride == 1 && base_in == base_out;
      // A stage's first block can only be residual at tiny multipliers; its input fixes the width.
      if (r.residual) r.out = b.channels(y);
      y = inverted_residual(b, "features." + std::to_string(i), y, r, o);
      base_in = base_out;
    }
  }
  const std::string last = "features." + std::to_string(i);
  y = conv_bn_relu(b, last, y, width_or(o, last, make_divisible(1280 * std::max(1.0, m))), 1, 1);
  return classifier(b, y, o, "classifier.0", "classifier.1");
}

}  // namespace mt::layers
