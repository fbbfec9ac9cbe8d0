#include <catch2/catch.hpp>

#include "layers/summary.h"
#include "layers/zoo/model.h"

using namespace mt;

TEST_CASE("the summary counts ResNet-20's parameters and MACs per layer", "[summary][zoo]") {
  layers::ModelOptions o;
  o.in_channels = 1;
  o.image_size = 28;
  const layers::Model m = layers::build_model("resnet20", o);
  const layers::ModelSummary s = layers::summarize(m.graph);
  CHECK(s.total_params == 269434);
  // notes/performance.md: 61.6 MFLOP per image (2 x MACs of convs and the linear layer).
  CHECK(2 * s.total_macs == 61642496);
  const auto conv1 = std::find_if(s.layers.begin(), s.layers.end(), [](auto& l) { return l.name == "conv1"; });
  REQUIRE(conv1 != s.layers.end());
  CHECK(conv1->output == Shape{1, 16, 28, 28});
  CHECK(conv1->params == 16 * 9);
  CHECK(conv1->macs == 16 * 9 * 28 * 28);
  CHECK(s.total_buffers == 1395);
  const std::string text = layers::format_summary(s);
  CHECK_THAT(text, Catch::Contains("layer3.2.conv2") && Catch::Contains("total parameters: 269,434"));
}
