// Graph queries asked once for all passes: what the logits depend on, inputs by role, the batch
// norm that alone reads a conv.
#include <catch2/catch.hpp>

#include "core/graph_queries.h"
#include "layers/zoo/model.h"

using namespace mt;

namespace {

layers::Model small_resnet() {
  layers::ModelOptions o;
  o.image_size = 8;
  return layers::build_model("resnet20", o);
}

}  // namespace

TEST_CASE("nodes_feeding follows the logits back to the images, past neither labels nor loss", "[core]") {
  const layers::Model m = small_resnet();
  const std::vector<bool> needed = nodes_feeding(m.graph, m.logits);
  const std::vector<int> behind = nodes_behind(m.graph, m.logits);
  REQUIRE(m.loss >= 0);
  CHECK_FALSE(needed[m.graph.producer(m.loss)]);
  CHECK(needed[m.graph.producer(m.logits)]);
  // Every node but the loss feeds the logits in a plain classifier.
  CHECK(behind.size() == m.graph.nodes().size() - 1);
  for (size_t i = 1; i < behind.size(); ++i) CHECK(behind[i - 1] < behind[i]);  // graph order
  for (int n : behind) CHECK(needed[n]);
}

TEST_CASE("inputs by role, and the batch norm after a conv", "[core]") {
  const layers::Model m = small_resnet();
  const Graph& g = m.graph;
  const int conv = g.find_node("conv1");
  const int bn = g.find_node("bn1");
  REQUIRE(conv >= 0);
  REQUIRE(bn >= 0);
  CHECK(batchnorm_reading(g, g.node(conv).outputs[0]) == bn);
  CHECK(only_reader(g, g.node(conv).outputs[0]) == bn);
  CHECK(batchnorm_reading(g, g.node(bn).outputs[0]) == -1);  // a relu reads it
  CHECK(g.value(input_of(g, bn, InputRole::running_mean)).name == "bn1.running_mean");
  CHECK(g.value(input_of(g, bn, InputRole::weight)).name == "bn1.weight");
  CHECK(g.value(input_of(g, bn, InputRole::num_batches_tracked)).name == "bn1.num_batches_tracked");
  CHECK(g.value(input_of(g, conv, InputRole::weight)).name == "conv1.weight");
  CHECK(input_of(g, conv, InputRole::bias) == -1);  // ResNet convs have no bias
  CHECK_THROWS_WITH(required_input(g, conv, InputRole::running_var),
                    Catch::Contains("'conv1'"));
  CHECK(is_activation_value(g, m.images));
  CHECK_FALSE(is_activation_value(g, input_of(g, conv, InputRole::weight)));
}
