// A steady-state training step asks the system allocator for nothing: the executor plans its
// buffers once per input shape, the backends cache their primitives and workspaces, and the
// optimizer allocates its state on the first step.
#include <catch2/catch.hpp>

#include "core/executor.h"
#include "kernels/backends.h"
#include "layers/zoo/model.h"
#include "trainers/sgd.h"

using namespace mt;

TEST_CASE("training steps 2..N make no new allocations", "[alloc][cpu]") {
  layers::ModelOptions o;
  o.in_channels = 3;
  o.image_size = 16;
  o.dropout = 0.1;  // dropout keeps a mask in its node state: that must be reused too
  layers::Model model = layers::build_model("resnet20", o);
  KernelBackend& backend = backend_for(Device::cpu());
  Executor exec(model.graph, backend);

  Tensor images = Tensor::empty({8, 3, 16, 16});
  Tensor labels = Tensor::empty({8}, DType::i64);
  Rng rng(1);
  for (int64_t i = 0; i < images.numel(); ++i) images.data<float>()[i] = static_cast<float>(rng.normal());
  for (int64_t i = 0; i < 8; ++i) labels.data<int64_t>()[i] = i % 10;

  std::unique_ptr<Sgd> sgd;
  auto step = [&] {
    exec.forward({images, labels}, Mode::train);
    exec.backward(model.loss);
    if (!sgd) sgd = std::make_unique<Sgd>(graph_params(model.graph, exec), SgdOptions{0.05, 0.9, 0, 5e-4});
    sgd->step(backend);
  };
  // Warm-up: the first training steps and the first evaluation build their plans and primitives.
  step();
  step();
  exec.forward({images, labels}, Mode::eval);
  const AllocatorStats before = allocator_for(Device::cpu()).stats();
  for (int i = 0; i < 4; ++i) step();
  exec.forward({images, labels}, Mode::eval);
  step();
  const AllocatorStats after = allocator_for(Device::cpu()).stats();
  CHECK(after.system_allocs == before.system_allocs);
  CHECK(after.bytes_in_use == before.bytes_in_use);
  INFO("the test must have exercised the allocator at all");
  CHECK(before.system_allocs > 0);
}
