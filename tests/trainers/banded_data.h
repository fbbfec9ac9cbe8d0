#pragma once
// Small fixtures of the training-loop tests: a learnable data set, a tiny CIFAR ResNet for it and
// the optimizer they train with.
#include "core/random.h"
#include "layers/zoo/model.h"
#include "trainers/dataset.h"
#include "trainers/sgd.h"
#include "trainers/trainer.h"

namespace mt::testing {

// 1x12x12 noise with a bright band whose row block is the class (4 classes): learnable in a few
// steps.
inline Dataset banded(int64_t n, uint64_t seed) {
  Dataset d;
  d.name = "banded";
  d.sample = Shape{1, 12, 12};
  d.num_classes = 4;
  Rng rng(seed);
  d.labels.resize(n);
  d.pixels.resize(n * 144);
  for (int64_t i = 0; i < n; ++i) {
    d.labels[i] = static_cast<int64_t>(rng.next() % 4);
    for (int64_t p = 0; p < 144; ++p)
      d.pixels[i * 144 + p] = static_cast<uint8_t>(rng.uniform(0, 90) + ((p / 12) / 3 == d.labels[i] ? 150 : 0));
  }
  return d;
}

// ResNet-8 at half width for banded() data; callers set the seed and any extras.
inline layers::ModelOptions banded_resnet_options() {
  layers::ModelOptions o;
  o.in_channels = 1;
  o.image_size = 12;
  o.num_classes = 4;
  o.depth = 8;
  o.width_multiplier = 0.5;
  return o;
}

// SGD at lr 0.05 with momentum 0.9, the optimizer of the training-loop tests.
inline OptimizerFactory sgd_factory(double weight_decay = 0) {
  return [weight_decay](std::vector<ParamRef> params) {
    SgdOptions o;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.weight_decay = weight_decay;
    return std::make_unique<Sgd>(std::move(params), o);
  };
}

}  // namespace mt::testing
