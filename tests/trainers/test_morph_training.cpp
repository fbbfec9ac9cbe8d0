// Structure learning inside the training loop: the learned cost answers the strength as it
// should (none at strength 0, monotone, collapsing when huge), the term reaches the loss and the
// metrics, and budget mode steers towards its target.
#include <catch2/catch.hpp>

#include <sstream>

#include "core/random.h"
#include "kernels/backends.h"
#include "morph/network_regularizer.h"
#include "trainers/morph_hook.h"
#include "trainers/sgd.h"
#include "trainers/trainer.h"
#include "tests/trainers/banded_data.h"

using namespace mt;

namespace {

using testing::banded;

layers::Model small_resnet(bool gating = false) {
  layers::ModelOptions o = testing::banded_resnet_options();
  o.gating = gating;
  o.gate_temperature = 0.5;
  o.seed = 3;
  return layers::build_model("resnet_cifar", o);
}

const OptimizerFactory sgd = mt::testing::sgd_factory();

struct Outcome {
  double cost, full_cost, last_term;
};

// Trains 5 epochs of 6 steps with strength = relative / (the initial term), so that one scale
// serves every method; the learned structure's cost at the end.
Outcome learn(double relative, morph::Method method, bool proximal) {
  layers::Model m = small_resnet(method == morph::Method::logistic_sigmoid);
  morph::RegularizerOptions ro;
  ro.method = method;
  ro.backend = &backend_for(Device::cpu());  // the trainer's, as tools/ passes it
  auto regularizer = morph::make_regularizer(m.graph, m.logits, ro);
  MorphHookOptions ho;
  ho.strength = relative / regularizer->regularization_term();
  ho.proximal = proximal;
  MorphHook hook(std::move(regularizer), ho);
  LrScheduleConfig lc;
  lc.base_lr = 0.05;
  const LrSchedule lr(lc);
  TrainOptions t;
  t.epochs = 5;
  t.batch_size = 16;
  t.seed = 5;
  Trainer trainer(m, backend_for(Device::cpu()), sgd, lr, t, Normalization{{0.3}, {0.3}});
  trainer.add_hook(&hook);
  trainer.fit(banded(96, 1), nullptr);
  return {hook.regularizer().cost(), hook.regularizer().full_cost(), hook.regularizer().regularization_term()};
}

}  // namespace

TEST_CASE("the learned FLOPs answer the strength: none at 0, monotone, collapsing when huge", "[morph][trainer]") {
  for (const morph::Method method : {morph::Method::gamma, morph::Method::group_lasso}) {
    INFO(morph::method_name(method));
    const Outcome zero = learn(0, method, true);
    CHECK(zero.cost == zero.full_cost);
    double previous = zero.cost;
    for (const double s : {1e2, 1e4, 1e6}) {
      const Outcome o = learn(s, method, true);
      INFO("strength " << s << " cost " << o.cost << " of " << o.full_cost);
      CHECK(o.cost <= previous);
      previous = o.cost;
    }
    CHECK(previous < 0.1 * zero.full_cost);
  }
}

TEST_CASE("gates close under a large strength and stay open without one", "[morph][trainer]") {
  const Outcome open = learn(0, morph::Method::logistic_sigmoid, false);
  CHECK(open.cost == open.full_cost);
  const Outcome closed = learn(1e3, morph::Method::logistic_sigmoid, false);
  CHECK(closed.cost < 0.5 * closed.full_cost);
}
