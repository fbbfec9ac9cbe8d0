// Memory planning (core/memory_plan.h, Executor::plan_memory): buffers packed by lifetime never
// collide, ResNet-20's training step fits in a bound that follows from the liveness analysis, and
// a step run in the packed arena computes exactly what it computes with every buffer its own.
#include <catch2/catch.hpp>

#include <cstring>

#include "core/executor.h"
#include "core/memory_plan.h"
#include "core/random.h"
#include "kernels/backends.h"
#include "kernels/reference/reference_backend.h"
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
  // What forward keeps for backward is alive when the last forward node has run, so it is a
  // floor. It is not every activation: no backward reads a batch norm's output that only an add
  // reads, nor an add's inputs (Op::backward_reads_*), so those die at their last forward reader;
  // and a batch norm's output that a backward does read is recomputed just before it
  // (Options::recompute). Of the five equal values of each block (conv, bn + relu, conv, bn,
  // add + relu) ResNet-20 keeps the two conv outputs and the add's: under 0.65 of the
  // activations; without recomputing, the bn + relu output too: under 0.85. The gradients and the
  // recomputed values die as soon as backward is done with them, so the whole step needs little
  // more than the kept values: at most 1.2 x, where keeping every buffer (the executor before
  // planning) needed well over twice the activations.
  const Executor keeping(m.graph, *backend, Executor::Options{.recompute = false});
  const Executor::MemoryReport kept_bn = keeping.plan_memory(128, true);
  const double activations = static_cast<double>(train.value_bytes);
  INFO("planned " << train.planned_bytes << ", kept " << train.kept_bytes << ", kept without recomputing "
                  << kept_bn.kept_bytes << ", activations " << train.value_bytes << ", unpacked "
                  << train.unpacked_bytes);
  CHECK(train.planned_bytes >= train.kept_bytes);
  CHECK(train.kept_bytes < 0.65 * activations);
  CHECK(kept_bn.kept_bytes < 0.85 * activations);
  CHECK(kept_bn.kept_bytes > train.kept_bytes + 0.15 * activations);
  CHECK(train.planned_bytes <= 1.2 * static_cast<double>(train.kept_bytes));
  CHECK(kept_bn.planned_bytes <= 1.2 * static_cast<double>(kept_bn.kept_bytes));
  CHECK(train.unpacked_bytes >= 2 * train.value_bytes);
  int collisions = 0;
  for (size_t i = 0; i < train.lives.size(); ++i)
    for (size_t j = i + 1; j < train.lives.size(); ++j) collisions += buffers_collide(train.lives, train.packed, i, j);
  CHECK(collisions == 0);
  // Inference keeps a value only until its last reader: a small fraction of the activations.
  const Executor::MemoryReport infer = ex.plan_memory(128, false);
  CHECK(infer.planned_bytes < 0.25 * static_cast<double>(infer.value_bytes));
}

TEST_CASE("a backend that cannot recompute a batch norm gets it kept", "[memory][recompute]") {
  struct NoRecompute : ReferenceBackend {
    bool recomputes_batchnorm() const override { return false; }
  };
  layers::ModelOptions o;
  o.in_channels = 3;
  o.image_size = 16;
  layers::Model m = layers::build_model("resnet20", o);
  NoRecompute cannot;
  ReferenceBackend can;
  const int64_t without = Executor(m.graph, cannot).plan_memory(8, true).kept_bytes;
  CHECK(without == Executor(m.graph, can, Executor::Options{.recompute = false}).plan_memory(8, true).kept_bytes);
  CHECK(without > Executor(m.graph, can).plan_memory(8, true).kept_bytes);
}

// The packed executor recomputes the batch norms' outputs in backward (Options::recompute), the
// unpacked one keeps them: equal gradients bit for bit also say the recomputation is exact.
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
