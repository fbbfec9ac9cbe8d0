#pragma once
// The built-in models, one file each; registry.cpp registers them all.
#include <map>
#include <string>

#include "layers/zoo/model.h"

namespace mt::layers {

ValueId build_resnet_cifar(ModelBuilder& b, ValueId x, const ModelOptions& o);
ValueId build_resnet18(ModelBuilder& b, ValueId x, const ModelOptions& o);
ValueId build_resnet34(ModelBuilder& b, ValueId x, const ModelOptions& o);
ValueId build_resnet50(ModelBuilder& b, ValueId x, const ModelOptions& o);
ValueId build_vgg(ModelBuilder& b, ValueId x, const ModelOptions& o);
ValueId build_vgg_small(ModelBuilder& b, ValueId x, const ModelOptions& o);
ValueId build_mobilenet_v1(ModelBuilder& b, ValueId x, const ModelOptions& o);
ValueId build_mobilenet_v2(ModelBuilder& b, ValueId x, const ModelOptions& o);
// The "yaml" model: the network in options.graph_spec (layers/yaml_graph.h).
ValueId build_yaml_model(ModelBuilder& b, ValueId x, const ModelOptions& o);
// The "onnx" model: the network of the file options.onnx_source (layers/onnx_import.h).
ValueId build_onnx_model(ModelBuilder& b, ValueId x, const ModelOptions& o);

void register_builtin_models(std::map<std::string, ModelFn>& m);

}  // namespace mt::layers
