// Memory planning (core/memory_plan.h, Executor::plan_memory): buffers packed by lifetime never
// collide, ResNet-20's training step fits in a bound that follows from the liveness analysis, and
// a step run in the packed arena computes exactly what it computes with every buffer its own.
#include <catch2/catch.hpp>

#include <cstring>

#include "core/executor.h"
#include "core/memory_plan.h"
#include "core/random.h"
#include "kernels/backends.h"
#include "layers/zoo/model.h"

using namespace mt;

TEST_CASE("packing buffers by lifetime: disjoint lifetimes share, overlapping ones do not", "[memory]") {
  // a and c are never alive together; b meets both.
  const std::vector<BufferLife> lives{{100, 0, 1}, {50, 1, 2}, {100, 2, 3}};
  const PackedBuffers p = pack_buffers(lives);
  CHECK(p.offsets[0] == p.offsets[2]);  // a and c share their memory
  CHECK(p.arena_bytes == 128 + 64);     // sizes rounded to 64 bytes
  CHECK(p.unpacked_bytes == 128 + 64 + 128);
  for (size_t i = 0; i < lives.size(); ++i)
    for (size_t j = 0; j < lives.size(); ++j) CHECK_FALSE(buffers_collide(lives, p, i, j));
  for (int64_t offset : p.offsets) CHECK(offset % kBufferAlignment == 0);

  // Random lifetimes: never a collision, never more than every buffer on its own.
  Rng rng(5);
  std::vector<BufferLife> many;
  for (int i = 0; i < 300; ++i) {
    const int first = static_cast<int>(rng.uniform(0, 100));
    many.push_back({static_cast<int64_t>(rng.uniform(1, 5000)), first, first + static_cast<int>(rng.uniform(0, 30))});
  }
  const PackedBuffers q = pack_buffers(many);
  int collisions = 0;
  for (size_t i = 0; i < many.size(); ++i)
    for (size_t j = i + 1; j < many.size(); ++j) collisions += buffers_collide(many, q, i, j);
  CHECK(collisions == 0);
  CHECK(q.arena_bytes < q.unpacked_bytes);
}

TEST_CASE("ResNet-20's planned training step: a bound from liveness, and no two live buffers overlap", "[memory]") {
  layers::ModelOptions o;
  o.in_channels = 3;
  o.image_size = 32;
  layers::Model m = layers::build_model("resnet20", o);
  auto backend = make_backend("cpu");
  const Executor ex(m.graph, *backend);
  const Executor::MemoryReport train = ex.plan_memory(128, true);
  // Every activation is alive when the last forward node has run (backward needs them all), so
  // the activations alone are a floor; their gradients die as soon as they are passed on, so the
  // whole step needs little more: at most 1.25 x the activations, where keeping every buffer
  // (the executor before planning) needed well over twice as much.
  INFO("planned " << train.planned_bytes << ", activations " << train.value_bytes << ", unpacked "
                  << train.unpacked_bytes);
  CHECK(train.planned_bytes >= train.value_bytes);
  CHECK(train.planned_bytes <= 1.25 * static_cast<double>(train.value_bytes));
  CHECK(train.unpacked_bytes >= 2 * train.value_bytes);
  CHECK(train.planned_bytes < 0.55 * static_cast<double>(train.unpacked_bytes));
  int collisions = 0;
  for (size_t i = 0; i < train.lives.size(); ++i)
    for (size_t j = i + 1; j < train.lives.size(); ++j) collisions += buffers_collide(train.lives, train.packed, i, j);
  CHECK(collisions == 0);
  // Inference keeps a value only until its last reader: a small fraction of the activations.
  const Executor::MemoryReport infer = ex.plan_memory(128, false);
  CHECK(infer.planned_bytes < 0.25 * static_cast<double>(infer.value_bytes));
}

TEST_CASE("a training step in the packed arena computes what it computes unpacked", "[memory][executor]") {
  layers::ModelOptions o;
  o.in_channels = 3;
  o.image_size = 16;
  layers::Model a = layers::build_model("resnet20", o), b = layers::build_model("resnet20", o);
  auto backend = make_backend("cpu");
  Executor packed(a.graph, *backend), unpacked(b.graph, *backend, Executor::Options{.reuse_memory = false});
  Rng rng(9);
  Tensor images = Tensor::empty({8, 3, 16, 16});
  for (int64_t i = 0; i < images.numel(); ++i) images.data<float>()[i] = static_cast<float>(rng.normal());
  Tensor labels = Tensor::empty({8}, DType::i64);
  for (int64_t i = 0; i < 8; ++i) labels.data<int64_t>()[i] = i % 10;
  for (int step = 0; step < 2; ++step) {
    packed.forward({images, labels}, Mode::train);
    unpacked.forward({images, labels}, Mode::train);
    packed.backward(a.loss);
    unpacked.backward(b.loss);
    CHECK(packed.value(a.loss).data<float>()[0] == unpacked.value(b.loss).data<float>()[0]);
    for (size_t i = 0; i < a.graph.params().size(); ++i) {
      const Tensor& ga = packed.grad(a.graph.params()[i]);
      const Tensor& gb = unpacked.grad(b.graph.params()[i]);
      INFO(a.graph.value(a.graph.params()[i]).name);
      REQUIRE(ga.nbytes() == gb.nbytes());
      CHECK(std::memcmp(ga.raw(), gb.raw(), ga.nbytes()) == 0);
    }
  }
  // An intermediate activation is gone after backward, and says so.
  CHECK_THROWS_WITH(packed.value(a.graph.at("layer1.0.conv1")), Catch::Contains("no longer held"));
  // Evaluation in a forward-only plan (another batch size: a plan of its own) gives the same
  // logits too.
  const Tensor five = Tensor::wrap(images.raw(), {5, 3, 16, 16}, DType::f32);
  const Tensor five_labels = Tensor::wrap(labels.raw(), {5}, DType::i64);
  packed.forward({five, five_labels}, Mode::eval);
  unpacked.forward({five, five_labels}, Mode::eval);
  const Tensor& la = packed.value(a.logits);
  const Tensor& lb = unpacked.value(b.logits);
  CHECK(std::memcmp(la.raw(), lb.raw(), la.nbytes()) == 0);
}
