#pragma once
// conv + linear and an SGD over them: the smallest graph whose checkpoint holds weights and
// momenta, for tests about checkpoint files rather than about training.
#include <memory>
#include <vector>

#include "layers/builder.h"
#include "trainers/sgd.h"
#include "trainers/trainer_state.h"

namespace mt::testing {

struct TinyNet {
  Graph graph;
  std::vector<Tensor> grads;
  std::unique_ptr<Sgd> sgd;

  explicit TinyNet(uint64_t seed) {
    layers::ModelBuilder b(graph, seed);
    ValueId x = b.input("images", {1, 4, 4});
    x = b.conv2d("conv1", x, 2, 3, {.padding = 1});
    graph.mark_output(b.linear("fc", b.flatten("flatten", x), 3));
    std::vector<ParamRef> refs;
    for (ValueId v : graph.params()) grads.push_back(Tensor::zeros(graph.value(v).shape));
    for (size_t i = 0; i < graph.params().size(); ++i) {
      Value& p = graph.value(graph.params()[i]);
      refs.push_back({p.name, &p.data, &grads[i]});
    }
    sgd = std::make_unique<Sgd>(refs, SgdOptions{.lr = 0.1, .momentum = 0.9});
  }
};

inline TrainerState tiny_state_at(int64_t step) {
  TrainerState s;
  s.step = step;
  s.step_in_epoch = step;
  s.seed = 1;
  s.best_accuracy = 0.5;
  s.extra = nlohmann::json::object();
  return s;
}

}  // namespace mt::testing
