// Structure files (model.structure, learned_structure.json) against a ResNet-8 for 1 x 8 x 8
// inputs: parsed, matched to the model and, when they fit, the slim model built from them.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "morph/reshape.h"
#include "morph/structure_file.h"

namespace {

const mt::layers::Model& dense() {
  static const mt::layers::Model model = [] {
    mt::layers::ModelOptions o;
    o.in_channels = 1;
    o.image_size = 8;
    o.depth = 8;
    return mt::layers::build_model("resnet_cifar", o);
  }();
  return model;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const mt::morph::ChannelSelection keep = mt::morph::parse_structure(text, "fuzz.json", dense());
    mt::morph::ReshapeOptions o;
    o.init = mt::morph::ReshapeInit::fresh;
    const mt::morph::Reshaped slim = mt::morph::reshape_model(dense(), keep, o);
    (void)slim.model.graph.num_parameters();
  } catch (const std::exception&) {
  }
  return 0;
}
