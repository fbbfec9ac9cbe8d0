// Measured latency tables (morph/latency_table.h): interpolation and its slopes against
// hand-computed values, rejection of malformed tables naming the defect, and the cost model
// costing a layer by its table with the table's slopes as the term's coefficients.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>

#include "layers/zoo/model.h"
#include "morph/channel_groups.h"
#include "morph/cost_model.h"
#include "morph/latency_table.h"
#include "morph/liked_widths.h"

using namespace mt;
using Catch::Contains;

TEST_CASE("latency tables interpolate bilinearly, with slopes, and extend linearly", "[morph][latency]") {
  const morph::LatencyEntry e{"toy", {1, 3}, {2, 4}, {{10, 20}, {30, 60}}};
  const morph::Interpolated mid = morph::interpolate(e, 2, 3);  // the cell's centre
  CHECK(mid.ns == Approx(30));     // (10 + 20 + 30 + 60) / 4
  CHECK(mid.d_in == Approx(15));   // ((30 - 10) + (60 - 20)) / 2 / 2
  CHECK(mid.d_out == Approx(10));  // ((20 - 10) + (60 - 30)) / 2 / 2
  const morph::Interpolated corner = morph::interpolate(e, 3, 4);
  CHECK(corner.ns == Approx(60));
  const morph::Interpolated beyond = morph::interpolate(e, 4, 4);  // half a cell past the grid
  CHECK(beyond.ns == Approx(80));   // at out 4: 20 at in 1, 60 at in 3: 20 per channel, so 80 at 4
  CHECK(beyond.d_in == Approx(20));
  CHECK(morph::channel_grid(16) == std::vector<double>{1, 2, 4, 6, 8, 10, 12, 14, 16});
  CHECK(morph::channel_grid(3) == std::vector<double>{1, 2, 3});
}

TEST_CASE("a malformed latency table is refused, naming the file and the defect", "[morph][latency]") {
  auto load = [](const char* text) { morph::LatencyTable::from_json(nlohmann::json::parse(text), "t.json"); };
  CHECK_THROWS_WITH(load(R"({"name": "x"})"), Contains("t.json") && Contains("\"layers\""));
  CHECK_THROWS_WITH(load(R"({"layers": [{"key": "a", "in": [2, 1], "out": [1], "ns": [[1], [2]]}]})"),
                    Contains("layer 'a'") && Contains("ascend"));
  CHECK_THROWS_WITH(load(R"({"layers": [{"key": "a", "in": [1, 2], "out": [1, 2], "ns": [[1, 2], [3]]}]})"),
                    Contains("one value per \"out\" point"));
  CHECK_THROWS_WITH(load(R"({"layers": [{"key": "a", "in": [1], "out": [1], "ns": [[-5]]}]})"),
                    Contains(">= 0"));
  const morph::LatencyTable ok = morph::LatencyTable::from_json(
      nlohmann::json::parse(R"({"batch": 8, "layers": [{"key": "a", "in": [1], "out": [1, 2], "ns": [[1, 2]]}]})"), "t");
  CHECK(ok.batch == 8);
  REQUIRE(ok.find("a") != nullptr);
  CHECK(ok.find("b") == nullptr);
  CHECK(morph::LatencyTable::from_json(ok.to_json(), "again").find("a")->ns == ok.find("a")->ns);
}

TEST_CASE("the latency cost of a tabled layer is its table; the coefficients are its slopes", "[morph][latency]") {
  layers::ModelOptions mo;
  mo.image_size = 8;
  const layers::Model m = layers::build_model("resnet20", mo);
  const morph::ChannelGroups groups(m.graph, m.logits);
  morph::CostOptions o{morph::CostTarget::latency, morph::custom_hardware("roof", 100, 10)};
  const morph::CostModel roofline(groups, o);
  // A table for every conv: T(a, b) = 50 + 2ab + 5b, bilinear, so interpolation is exact.
  auto table = std::make_shared<morph::LatencyTable>();
  for (const morph::CostOp& op : roofline.ops()) {
    if (op.kind != "conv2d" || table->find(op.shape_key)) continue;
    morph::LatencyEntry e{op.shape_key, morph::channel_grid(op.in.total), morph::channel_grid(op.out.total), {}};
    for (double a : e.in) {
      e.ns.emplace_back();
      for (double b : e.out) e.ns.back().push_back(50 + 2 * a * b + 5 * b);
    }
    table->add(std::move(e));
  }
  o.hardware.measured = table;
  const morph::CostModel measured(groups, o);
  int tabled = 0;
  for (const morph::CostOp& op : measured.ops()) {
    const morph::OpCost c = measured.op_cost(op, 5, 7), r = roofline.op_cost(op, 5, 7);
    if (op.kind != "conv2d") {
      CHECK(c.cost == r.cost);  // not in the table: the roofline
      continue;
    }
    ++tabled;
    INFO(op.name << " " << op.shape_key);
    CHECK(c.cost == Approx(50 + 2 * 5 * 7 + 5 * 7));
    const double h = 1e-3;  // the coefficients are the table's partial derivatives
    CHECK(c.k_in == Approx((measured.op_cost(op, 5 + h, 7).cost - measured.op_cost(op, 5 - h, 7).cost) / (2 * h)));
    CHECK(c.k_out == Approx((measured.op_cost(op, 5, 7 + h).cost - measured.op_cost(op, 5, 7 - h).cost) / (2 * h)));
  }
  CHECK(tabled > 10);
}

TEST_CASE("liked widths: the measured widths no wider measured width matches in latency", "[morph][latency]") {
  // Hand-made: 4 costs as much as 8 (one block of filters), 12 more than 16 (a padded block).
  const morph::LatencyEntry toy{"toy", {1, 16}, {1, 2, 4, 8, 12, 16}, {{1, 1, 1, 1, 1, 1}, {100, 150, 300, 305, 700, 650}}};
  CHECK(morph::liked_widths(toy) == std::vector<int64_t>{1, 2, 8, 16});  // 4: 305 within 3% of 300
  CHECK(morph::liked_widths(toy, 0.0) == std::vector<int64_t>{1, 2, 4, 8, 16});
  // The committed 2-core table's 32 -> 32 convolution at 14x14 (ns at 32 inputs): 8 and 12 filters
  // take longer than 16, and 20 to 28 as long as 32.
  const morph::LatencyEntry measured{"conv2d 32x32 14x14 k3x3 s1x1 p1x1 d1x1 g1",
                                     {32},
                                     {1, 4, 8, 12, 16, 20, 24, 28, 32},
                                     {{277, 338, 964, 734, 691, 1342, 1338, 1346, 1327}}};
  CHECK(morph::liked_widths(measured) == std::vector<int64_t>{1, 4, 16, 32});
  // The dense width is always liked, even where a narrower one costs more.
  const morph::LatencyEntry flat{"flat", {8}, {2, 4, 8}, {{50, 50, 50}}};
  CHECK(morph::liked_widths(flat) == std::vector<int64_t>{8});
}
