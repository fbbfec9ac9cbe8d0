// The executor's fusions (ReLU into batch norm and add; batch norm folded into the conv in eval
// mode) change how a graph runs, never what it computes.
#include <catch2/catch.hpp>

#include "core/executor.h"
#include "kernels/backends.h"
#include "layers/zoo/model.h"

using namespace mt;

namespace {

void randomize_batchnorm(Graph& g, Rng& rng) {
  for (const auto& [name, t] : g.state_dict()) {
    if (t.dtype() != DType::f32) continue;
    Tensor v = t;
    const bool var = name.find("running_var") != std::string::npos;
    const bool bn = name.find("bn") != std::string::npos || name.find("running") != std::string::npos;
    if (!bn || name.find("conv") != std::string::npos) continue;
    for (int64_t i = 0; i < v.numel(); ++i)
      v.data<float>()[i] = static_cast<float>(var ? rng.uniform(0.5, 1.5) : rng.uniform(-0.5, 0.5) + (name.find("weight") != std::string::npos ? 1.0 : 0.0));
  }
}

}  // namespace

TEST_CASE("fused and unfused execution agree", "[fusion][cpu]") {
  const std::string backend_name = GENERATE(as<std::string>{}, "cpu", "reference");
  layers::ModelOptions o;
  o.image_size = 12;
  o.shortcut = GENERATE(as<std::string>{}, "A", "B");
  layers::Model model = layers::build_model("resnet20", o);
  Rng rng(3);
  randomize_batchnorm(model.graph, rng);
  auto backend = make_backend(backend_name);
  Executor fused(model.graph, *backend);
  Executor plain(model.graph, *backend, Executor::Options{.fuse_relu = false, .fold_batchnorm = false});

  Tensor images = Tensor::empty({4, 3, 12, 12});
  Tensor labels = Tensor::empty({4}, DType::i64);
  for (int64_t i = 0; i < images.numel(); ++i) images.data<float>()[i] = static_cast<float>(rng.normal());
  for (int64_t i = 0; i < 4; ++i) labels.data<int64_t>()[i] = i;

  INFO(backend_name << ", shortcut " << o.shortcut);
  fused.forward({images, labels}, Mode::eval);
  plain.forward({images, labels}, Mode::eval);
  CHECK(max_rel_diff(fused.value(model.logits), plain.value(model.logits)) < 1e-5);

  // Training mode: the running statistics move on each forward, so snapshot and restore them.
  const NamedTensors before = [&] {
    NamedTensors s;
    for (const auto& [n, t] : model.graph.state_dict()) s.emplace_back(n, t.clone());
    return s;
  }();
  fused.forward({images, labels}, Mode::train);
  fused.backward(model.loss);
  const Tensor fused_logits = fused.value(model.logits).clone();
  std::vector<Tensor> fused_grads;
  for (ValueId p : model.graph.params()) fused_grads.push_back(fused.grad(p).clone());
  for (size_t i = 0; i < before.size(); ++i) model.graph.state_dict()[i].second.copy_from(before[i].second);
  plain.forward({images, labels}, Mode::train);
  plain.backward(model.loss);
  CHECK(max_rel_diff(fused_logits, plain.value(model.logits)) < 1e-5);
  for (size_t i = 0; i < fused_grads.size(); ++i) {
    INFO(model.graph.value(model.graph.params()[i]).name);
    CHECK(max_rel_diff(fused_grads[i], plain.grad(model.graph.params()[i])) < 1e-5);
  }
}
