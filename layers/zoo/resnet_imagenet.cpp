// ImageNet ResNets as torchvision builds them (He et al. 2016; Bottleneck "v1.5": the stride sits
// on the 3x3 conv): a 7x7/2 conv stem, a 3x3/2 max pool, four stages of blocks (stride 2 at the
// start of stages 2-4), global average pool, fc. Parameter and buffer names are torchvision's
// state_dict names (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0/.1, fc), so weights load
// into torchvision's resnet18/34/50 unchanged.
//
// Width keys (ModelOptions.widths):
//   "layer1".."layer4"   the output width of every block of a stage (the residual adds tie them);
//                        BasicBlock 64/128/256/512, Bottleneck 256/512/1024/2048
//   "conv1"              the stem; in BasicBlock nets it defaults to layer1's width (layer1.0's
//                        identity shortcut ties them) and a different value gives layer1.0 a
//                        downsample, as torchvision would; Bottleneck nets: 64
//   "layerS.B.conv1"     a block's first conv (BasicBlock: planes; Bottleneck: planes)
//   "layerS.B.conv2"     a Bottleneck's 3x3 conv (planes)
#include "layers/zoo/zoo_models.h"

namespace mt::layers {

namespace {
struct ResNetSpec {
  bool bottleneck;
  int blocks[4];
};

ValueId conv_bn(ModelBuilder& b, const std::string& conv, const std::string& bn, ValueId x,
                int64_t out, int kernel, int stride) {
  ConvOptions c;
  c.stride = stride;
  c.padding = kernel / 2;
  return b.batchnorm2d(bn, b.conv2d(conv, x, out, kernel, c));
}

// torchvision's rule: a 1x1 conv + BN shortcut wherever the block changes the shape.
ValueId shortcut(ModelBuilder& b, const std::string& p, ValueId x, int64_t out, int stride) {
  if (stride == 1 && b.channels(x) == out) return x;
  return conv_bn(b, p + "downsample.0", p + "downsample.1", x, out, 1, stride);
}

ValueId basic_block(ModelBuilder& b, const std::string& p, ValueId x, int64_t planes, int64_t out,
                    int stride, const ModelOptions& o) {
  const int64_t mid = layer_width(o, p + "conv1", planes);
  ValueId y = b.relu(p + "relu1", conv_bn(b, p + "conv1", p + "bn1", x, mid, 3, stride));
  y = conv_bn(b, p + "conv2", p + "bn2", y, out, 3, 1);
  return b.relu(p + "relu2", b.add(p + "add", y, shortcut(b, p, x, out, stride)));
}

ValueId bottleneck_block(ModelBuilder& b, const std::string& p, ValueId x, int64_t planes,
                         int64_t out, int stride, const ModelOptions& o) {
  const int64_t w1 = layer_width(o, p + "conv1", planes);
  const int64_t w2 = layer_width(o, p + "conv2", planes);
  ValueId y = b.relu(p + "relu1", conv_bn(b, p + "conv1", p + "bn1", x, w1, 1, 1));
  y = b.relu(p + "relu2", conv_bn(b, p + "conv2", p + "bn2", y, w2, 3, stride));
  y = conv_bn(b, p + "conv3", p + "bn3", y, out, 1, 1);
  return b.relu(p + "relu3", b.add(p + "add", y, shortcut(b, p, x, out, stride)));
}

ValueId build_resnet_imagenet(ModelBuilder& b, ValueId x, const ModelOptions& o,
                              const ResNetSpec& spec) {
  const int64_t expansion = spec.bottleneck ? 4 : 1;
  int64_t stage_width[4];
  for (int s = 0; s < 4; ++s)
    stage_width[s] = layer_width(o, "layer" + std::to_string(s + 1), (int64_t{64} << s) * expansion);
  const bool stem_override = o.widths.count("conv1") > 0;
  const int64_t stem = spec.bottleneck || stem_override ? layer_width(o, "conv1", 64) : stage_width[0];

  ConvOptions c;
  c.stride = 2;
  c.padding = 3;
  ValueId y = b.relu("relu", b.batchnorm2d("bn1", b.conv2d("conv1", x, stem, 7, c)));
  PoolOptions pool;
  pool.stride = 2;
  pool.padding = 1;
  y = b.maxpool2d("maxpool", y, 3, pool);
  for (int s = 0; s < 4; ++s)
    for (int i = 0; i < spec.blocks[s]; ++i) {
      const std::string p = "layer" + std::to_string(s + 1) + "." + std::to_string(i) + ".";
      const int stride = i == 0 && s > 0 ? 2 : 1;
      const int64_t planes = int64_t{64} << s;
      y = spec.bottleneck ? bottleneck_block(b, p, y, planes, stage_width[s], stride, o)
                          : basic_block(b, p, y, planes, stage_width[s], stride, o);
    }
  y = b.flatten("flatten", b.global_avgpool2d("avgpool", y));
  if (o.dropout > 0) y = b.dropout("dropout", y, o.dropout);
  return b.linear("fc", y, o.num_classes);
}
}  // namespace

ValueId build_resnet18(ModelBuilder& b, ValueId x, const ModelOptions& o) {
  return build_resnet_imagenet(b, x, o, {false, {2, 2, 2, 2}});
}

ValueId build_resnet34(ModelBuilder& b, ValueId x, const ModelOptions& o) {
  return build_resnet_imagenet(b, x, o, {false, {3, 4, 6, 3}});
}

ValueId build_resnet50(ModelBuilder& b, ValueId x, const ModelOptions& o) {
  return build_resnet_imagenet(b, x, o, {true, {3, 4, 6, 3}});
}

}  // namespace mt::layers
