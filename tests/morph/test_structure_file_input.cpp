// A structure file is outside input: every number in it must be an integer that fits, and
// anything else is a ConfigError naming the layer, never a conversion with undefined behaviour
// (tests/fuzz found `{"layer": 1e300}` reaching nlohmann's float-to-int64 cast).
#include <catch2/catch.hpp>

#include "core/error.h"
#include "layers/zoo/model.h"
#include "morph/structure_file.h"

using namespace mt;

namespace {

layers::Model resnet8() {
  layers::ModelOptions o;
  o.in_channels = 1;
  o.image_size = 8;
  o.depth = 8;
  return layers::build_model("resnet_cifar", o);
}

}  // namespace

TEST_CASE("structure files with numbers that are not integers are config errors", "[morph][structure]") {
  const layers::Model dense = resnet8();
  auto parse = [&](const std::string& text) { return morph::parse_structure(text, "s.json", dense); };
  CHECK(parse("{\"layer1.0.conv1\": 5}").num_groups() > 0);  // a valid one parses
  const char* bad[] = {
      "{\"layer1.0.conv1\": 1e300}",
      "{\"layer1.0.conv1\": 5.5}",
      "{\"layer1.0.conv1\": 18446744073709551615}",
      "{\"layer1.0.conv1\": \"5\"}",
      "{\"format\": \"morphtrain.structure\", \"learned_structure\": {\"layer1.0.conv1\": -1e19}}",
      "{\"format\": \"morphtrain.structure\", \"groups\": 1e300, \"learned_structure\": {}}",
      "{\"format\": \"morphtrain.structure\", \"layers\": {\"layer1.0.conv1\": {\"width\": 16.0, \"channels\": [0]}}}",
      "{\"format\": \"morphtrain.structure\", \"layers\": {\"layer1.0.conv1\": {\"width\": 16, \"channels\": [1e300]}}}",
  };
  for (const char* text : bad) {
    INFO(text);
    CHECK_THROWS_AS(parse(text), ConfigError);
    CHECK_THROWS_WITH(parse(text), Catch::Contains("must be an integer"));
  }
  // Missing pieces are typed errors too, not nlohmann's out_of_range.
  CHECK_THROWS_AS(parse("{\"format\": \"morphtrain.structure\"}"), ConfigError);
  CHECK_THROWS_AS(parse("{\"format\": \"morphtrain.structure\", \"layers\": {\"layer1.0.conv1\": {\"width\": 16}}}"),
                  ConfigError);
}
