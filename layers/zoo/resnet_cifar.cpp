// CIFAR-style ResNet (He et al. 2016, section 4.2): a 3x3 conv of 16 channels, three stages of n
// basic blocks (16/32/64 channels, stride 2 at the start of stages 2 and 3), global average pool,
// a linear classifier. Depth 6n + 2. Shortcut A adds a zero-padded, subsampled identity (no
// parameters); B a 1x1 conv + BN where the shape changes.
#include "layers/zoo/zoo_models.h"

namespace mt::layers {

namespace {
ValueId conv_bn(ModelBuilder& b, const std::string& conv, const std::string& bn, ValueId x,
                int64_t out, int kernel, int stride) {
  ConvOptions c;
  c.stride = stride;
  c.padding = kernel / 2;
  return b.batchnorm2d(bn, b.conv2d(conv, x, out, kernel, c));
}

ValueId shortcut(ModelBuilder& b, const std::string& p, ValueId x, int64_t out, int stride,
                 const ModelOptions& o) {
  const int64_t in = b.channels(x);
  if (stride == 1 && in == out) return x;
  if (o.shortcut == "B") return conv_bn(b, p + "downsample.0", p + "downsample.1", x, out, 1, stride);
  MT_CHECK(out >= in, ConfigError, "block '", p, "': an option-A shortcut cannot shrink ", in,
           " channels to ", out, "; use shortcut B or keep the block's width");
  const int64_t pad = out - in;
  return b.channel_pad(p + "shortcut", x, pad / 2, pad - pad / 2, stride);
}

ValueId basic_block(ModelBuilder& b, const std::string& p, ValueId x, int64_t planes, int stride,
                    const ModelOptions& o) {
  // `planes` already carries the width multiplier: only an explicit per-layer width changes it.
  const auto it = o.widths.find(p + "conv1");
  const int64_t mid = it == o.widths.end() ? planes : layer_width(o, p + "conv1", planes);
  // The block's output width is tied to its shortcut's, so conv2 follows the stage width.
  ValueId y = b.relu(p + "relu1", conv_bn(b, p + "conv1", p + "bn1", x, mid, 3, stride));
  y = conv_bn(b, p + "conv2", p + "bn2", y, planes, 3, 1);
  return b.relu(p + "relu2", b.add(p + "add", y, shortcut(b, p, x, planes, stride, o)));
}
}  // namespace

ValueId build_resnet_cifar(ModelBuilder& b, ValueId x, const ModelOptions& o) {
  MT_CHECK(o.depth >= 8 && (o.depth - 2) % 6 == 0, ConfigError, "CIFAR ResNet depth must be 6n + 2 ",
           "(20, 32, 44, 56, 110), got ", o.depth);
  MT_CHECK(o.shortcut == "A" || o.shortcut == "B", ConfigError, "shortcut must be A or B, got '",
           o.shortcut, "'");
  const int n = (o.depth - 2) / 6;
  // Every stage's output width is shared by all of its blocks (the residual adds tie them), and
  // the stem feeds stage 1 through identities, so conv1 takes stage 1's width.
  const int64_t stage_width[3] = {layer_width(o, "layer1", 16), layer_width(o, "layer2", 32),
                                  layer_width(o, "layer3", 64)};
  ValueId y = b.relu("relu", conv_bn(b, "conv1", "bn1", x, stage_width[0], 3, 1));
  for (int s = 0; s < 3; ++s)
    for (int i = 0; i < n; ++i) {
      const std::string p = "layer" + std::to_string(s + 1) + "." + std::to_string(i) + ".";
      y = basic_block(b, p, y, stage_width[s], i == 0 && s > 0 ? 2 : 1, o);
    }
  y = b.flatten("flatten", b.global_avgpool2d("avgpool", y));
  if (o.dropout > 0) y = b.dropout("dropout", y, o.dropout);
  return b.linear("fc", y, o.num_classes);
}

}  // namespace mt::layers
