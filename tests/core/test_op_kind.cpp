// Op kinds as a type: names map to kinds in one place, both ways, and every op of the set
// reports its own kind.
#include <catch2/catch.hpp>

#include <memory>
#include <set>

#include "core/ops/add.h"
#include "core/ops/batchnorm2d.h"
#include "core/ops/compactor.h"
#include "core/ops/conv2d.h"
#include "core/ops/gate.h"
#include "core/ops/hard_activations.h"
#include "core/ops/pool2d.h"
#include "core/ops/softmax_cross_entropy.h"

using namespace mt;

TEST_CASE("every op kind has a name that maps back to it", "[core]") {
  std::set<std::string_view> names;
  for (OpKind k : kAllOpKinds) {
    const std::string_view name = op_kind_name(k);
    CHECK(names.insert(name).second);  // names are unique
    REQUIRE(op_kind_from_name(name).has_value());
    CHECK(*op_kind_from_name(name) == k);
  }
  CHECK(names.size() == kNumOpKinds - 1);  // all but custom
  CHECK_FALSE(op_kind_from_name("custom").has_value());
  CHECK_FALSE(op_kind_from_name("Conv2d").has_value());
  CHECK_FALSE(op_kind_from_name("").has_value());
}

TEST_CASE("ops report their kind, its name and their inputs' roles", "[core]") {
  CHECK(Conv2dOp(Conv2dDesc{}, true).kind() == OpKind::conv2d);
  CHECK(CompactorOp().kind() == OpKind::compactor);  // a conv underneath, its own kind on top
  CHECK(CompactorOp().kind_name() == "compactor");
  CHECK(AddOp().kind_name() == "add");
  CHECK(GlobalAvgPool2dOp().kind() == OpKind::global_avgpool2d);
  CHECK(Relu6Op().kind() == OpKind::relu6);
  CHECK(HardSigmoidOp().kind_name() == "hardsigmoid");
  CHECK(HardSwishOp().kind_name() == "hardswish");
  CHECK(HardSwishOp().infer_shapes({Shape{2, 3, 4, 5}}) == std::vector<Shape>{Shape{2, 3, 4, 5}});

  const BatchNorm2dOp bn(BatchNormDesc{});
  CHECK(bn.input_role(0) == InputRole::data);
  CHECK(bn.input_role(1) == InputRole::weight);
  CHECK(bn.input_role(2) == InputRole::bias);
  CHECK(bn.input_role(3) == InputRole::running_mean);
  CHECK(bn.input_role(4) == InputRole::running_var);
  CHECK(bn.input_role(5) == InputRole::num_batches_tracked);
  CHECK(Conv2dOp(Conv2dDesc{}, true).input_role(2) == InputRole::bias);
  CHECK(GateOp().input_role(1) == InputRole::logits);
  CHECK(SoftmaxCrossEntropyOp().input_role(1) == InputRole::labels);
}
