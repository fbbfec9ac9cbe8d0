#include "layers/zoo/zoo_models.h"

namespace mt::layers {

namespace {
ModelFn resnet_cifar_of_depth(int depth) {
  return [depth](ModelBuilder& b, ValueId x, const ModelOptions& o) {
    ModelOptions with_depth = o;
    with_depth.depth = depth;
    return build_resnet_cifar(b, x, with_depth);
  };
}
}  // namespace

void register_builtin_models(std::map<std::string, ModelFn>& m) {
  m["resnet_cifar"] = build_resnet_cifar;
  for (int depth : {20, 32, 44, 56, 110}) m["resnet" + std::to_string(depth)] = resnet_cifar_of_depth(depth);
  m["resnet18"] = build_resnet18;
  m["resnet34"] = build_resnet34;
  m["resnet50"] = build_resnet50;
  m["vgg"] = build_vgg;
  m["vgg_small"] = build_vgg_small;
  m["mobilenet_v1"] = build_mobilenet_v1;
  m["mobilenet_v2"] = build_mobilenet_v2;
  m["yaml"] = build_yaml_model;
  m["onnx"] = build_onnx_model;
}

}  // namespace mt::layers
