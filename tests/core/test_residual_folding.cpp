// Residual adds folded into the convolution before them in forward-only evaluation plans
// (Executor::Options::fold_residual): the logits are what the unfolded graph computes, the add's
// output takes over its other input's buffer (no buffer of its own), a downsampling shortcut
// (ResNet-50: the shortcut's conv runs after the main branch's) folds into the right conv, and a
// training plan serving an evaluation batch, which has no such buffers, runs the adds as ops.
#include <catch2/catch.hpp>

#include "core/executor.h"
#include "core/random.h"
#include "kernels/backends.h"
#include "layers/zoo/model.h"

using namespace mt;

namespace {

Tensor images(int64_t batch, int64_t size, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty({batch, 3, size, size});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(rng.normal());
  return t;
}

layers::Model rgb_model(const std::string& name, int64_t size) {
  layers::ModelOptions o;
  o.in_channels = 3;
  o.image_size = size;
  return layers::build_model(name, o);
}

Tensor labels(int64_t batch) {
  Tensor t = Tensor::empty({batch}, DType::i64);
  for (int64_t i = 0; i < batch; ++i) t.data<int64_t>()[i] = i % 10;
  return t;
}

// Running statistics away from their defaults, so that the folded batch norms do something.
void train_a_step(layers::Model& m, KernelBackend& backend, const Tensor& x) {
  Executor ex(m.graph, backend);
  ex.forward({x, labels(x.dim(0))}, Mode::train);
}

void check_model(const std::string& name, int64_t size) {
  INFO(name);
  layers::Model m = rgb_model(name, size);
  auto backend = make_backend("cpu");
  const Tensor x = images(4, size, 3);
  train_a_step(m, *backend, x);

  Executor folded(m.graph, *backend), plain(m.graph, *backend, Executor::Options{.fold_residual = false});
  folded.forward({x, labels(4)}, Mode::eval);
  plain.forward({x, labels(4)}, Mode::eval);
  CHECK(max_rel_diff(folded.value(m.logits), plain.value(m.logits)) < 1e-5);
  // Every folded add's output lives in its residual's buffer: fewer buffers, no bigger arena.
  const Executor::MemoryReport with = folded.plan_memory(4, false), without = plain.plan_memory(4, false);
  CHECK(with.lives.size() < without.lives.size());
  CHECK(with.planned_bytes <= without.planned_bytes);
}

}  // namespace

TEST_CASE("folded residual adds compute the logits of the unfolded graph", "[executor][residual]") {
  check_model("resnet20", 16);
  check_model("resnet50", 32);
}

TEST_CASE("a training plan serving evaluation runs the residual adds as ops", "[executor][residual]") {
  layers::Model m = rgb_model("resnet20", 16);
  auto backend = make_backend("cpu");
  const Tensor x = images(6, 16, 4);
  train_a_step(m, *backend, x);
  Executor ex(m.graph, *backend), plain(m.graph, *backend, Executor::Options{.fold_residual = false});
  // The same shape as a training batch: the training plan serves it. (Compared after the training
  // step, which moves the running statistics.)
  ex.forward({x, labels(6)}, Mode::train);
  ex.backward(m.loss);
  ex.forward({x, labels(6)}, Mode::eval);
  plain.forward({x, labels(6)}, Mode::eval);
  CHECK(max_rel_diff(ex.value(m.logits), plain.value(m.logits)) < 1e-5);
  // A forward-only plan (another batch size) folds, and agrees with the unfolded graph.
  const Tensor four = Tensor::wrap(x.raw(), {4, 3, 16, 16}, DType::f32);
  ex.forward({four, labels(4)}, Mode::eval);
  plain.forward({four, labels(4)}, Mode::eval);
  CHECK(max_rel_diff(ex.value(m.logits), plain.value(m.logits)) < 1e-5);
}
