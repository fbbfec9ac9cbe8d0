// An ONNX file (layers/onnx_import.h) read, checked and built into a graph for 3 x 8 x 8 inputs,
// with its weights, as model.name: onnx with model.onnx does.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "layers/onnx_import.h"
#include "layers/zoo/model.h"
#include "scratch_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mt::layers::ModelOptions o;
  o.in_channels = 3;
  o.image_size = 8;
  o.num_classes = 10;
  o.onnx_source = mt::fuzz::scratch_file("model.onnx", data, size);
  try {
    const mt::layers::Model m = mt::layers::build_model("onnx", o);
    (void)mt::layers::onnx_initial_weights(o);
  } catch (const std::exception&) {
  }
  return 0;
}
