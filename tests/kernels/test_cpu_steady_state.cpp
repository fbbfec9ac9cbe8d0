// The CPU backend in a steady state: repeated calls with the same shapes reach the system
// allocator zero times (primitives, reordered weights, scratchpads and temporaries are cached or
// come back from the caching allocator), and the primitive cache stays bounded when shapes keep
// changing (a reshaping model).
#include <catch2/catch.hpp>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/onednn_context.h"

namespace mt {
namespace {

Tensor ramp(const Shape& shape, Layout layout, float scale) {
  Tensor t = Tensor::empty(shape, DType::f32, layout);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = scale * static_cast<float>((i * 7919) % 263 - 131);
  return t;
}

int64_t system_allocs() { return allocator_for(Device::cpu()).stats().system_allocs; }

}  // namespace

TEST_CASE("repeated cpu kernel calls make no new system allocations", "[cpu]") {
  CpuBackend cpu;
  const Conv2dDesc conv{2, 2, 1, 1, 1, 1, 1};
  const Pool2dDesc pool{3, 3, 2, 2, 1, 1, false, true};
  const Tensor x = ramp({8, 16, 15, 15}, Layout::nhwc, 1e-2f);
  const Tensor w = ramp({24, 16, 3, 3}, Layout::nchw, 1e-3f), b = ramp({24}, Layout::nchw, 1e-2f);
  const Tensor gamma = ramp({24}, Layout::nchw, 1e-3f), beta = ramp({24}, Layout::nchw, 1e-3f);
  Tensor y = Tensor::empty({8, 24, 8, 8}, DType::f32, Layout::nhwc);
  Tensor bn = Tensor::empty(y.shape(), DType::f32, Layout::nhwc), act = bn.clone(), g = bn.clone();
  Tensor pooled = Tensor::empty({8, 24, 4, 4}, DType::f32, Layout::nhwc), ws;
  Tensor dpool = Tensor::empty(y.shape(), DType::f32, Layout::nhwc), dbn = dpool.clone();
  Tensor dact = dpool.clone(), dx = Tensor::empty(x.shape(), DType::f32, Layout::nhwc);
  Tensor dw = Tensor::empty(w.shape()), db = Tensor::empty(b.shape());
  Tensor rm = Tensor::zeros({24}), rv = Tensor::zeros({24}), mean = rm.clone(), invstd = rm.clone();
  Tensor dgamma = rm.clone(), dbeta = rm.clone();
  Tensor nchw = Tensor::empty(y.shape()), sum = Tensor::empty(y.shape(), DType::f32, Layout::nhwc);
  const Tensor dpooled = ramp(pooled.shape(), Layout::nhwc, 1e-2f);

  auto step = [&] {
    cpu.conv2d_fwd(conv, x, w, b, y);
    cpu.batchnorm_fwd_train({}, y, gamma, beta, rm, rv, bn, mean, invstd);
    cpu.relu_fwd(bn, act);
    cpu.maxpool_fwd(pool, act, pooled, ws);
    cpu.maxpool_bwd(pool, act, dpooled, ws, dpool);
    cpu.relu_bwd(act, dpool, dact);
    cpu.batchnorm_bwd({}, y, dact, gamma, mean, invstd, dbn, dgamma, dbeta);
    cpu.conv2d_bwd_data(conv, dbn, w, dx);
    cpu.conv2d_bwd_weights(conv, x, dbn, dw, db);
    cpu.copy(act, nchw);
    cpu.add_fwd(nchw, act, sum);  // mixed layouts: a temporary from the caching allocator
  };
  step();
  const int64_t after_first = system_allocs();
  for (int i = 0; i < 5; ++i) step();
  CHECK(system_allocs() == after_first);
  CHECK(allocator_for(Device::cpu()).stats().cache_hits > 0);
}

TEST_CASE("the primitive cache evicts when shapes keep changing", "[cpu]") {
  CpuBackend cpu;
  auto& ctx = onednn::Context::get();
  const size_t saved = ctx.capacity();
  ctx.set_capacity(16);
  for (int64_t n = 1; n <= 40; ++n) {
    const Tensor x = Tensor::zeros({n});
    Tensor y = Tensor::empty({n});
    cpu.sigmoid_fwd(x, y);
  }
  CHECK(ctx.cache_size() == 16);
  // The most recent shapes survive and still compute.
  const Tensor x = Tensor::zeros({40});
  Tensor y = Tensor::empty({40});
  y.fill(7);
  cpu.sigmoid_fwd(x, y);
  CHECK(y.at({39}) == 0.5);
  ctx.set_capacity(saved);
}

}  // namespace mt
