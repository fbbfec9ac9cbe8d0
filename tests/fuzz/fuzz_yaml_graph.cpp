// A network written in YAML (layers/yaml_graph.h), read from a file and built into a graph for
// 1 x 8 x 8 inputs, as model.name: yaml with model.graph does.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "layers/zoo/model.h"
#include "scratch_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mt::layers::ModelOptions o;
  o.in_channels = 1;
  o.image_size = 8;
  o.num_classes = 3;
  o.graph_source = mt::fuzz::scratch_file("graph.yaml", data, size);
  try {
    const mt::layers::Model m = mt::layers::build_model("yaml", o);
    (void)m.graph.num_parameters();
  } catch (const std::exception&) {
  }
  return 0;
}
