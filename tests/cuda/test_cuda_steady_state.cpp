// The CUDA backend in a steady state: once a call has run with its shapes (cuDNN algorithms
// chosen, workspace grown, descriptors cached), repeating it takes nothing new from the device
// allocator (cudaMalloc synchronises the whole device, so one per step would serialise training).
#include <functional>

#include "tests/cuda/gpu_compare.h"

namespace mt::gputest {
namespace {

Tensor device_random(const Shape& shape, Layout layout, uint64_t seed) {
  Rng rng(seed);
  return to_device(test::uniform(shape, rng, layout).to(DType::f32), gpu());
}

Tensor device_empty(const Shape& shape, Layout layout = Layout::nchw) {
  return Tensor::empty(shape, DType::f32, layout, gpu().device());
}

int64_t system_allocs() { return allocator_for(gpu().device()).stats().system_allocs; }

// Runs step once to warm up, then five more times, which must not reach the system allocator.
void check_steady(const std::string& what, const std::function<void()>& step) {
  step();
  (void)to_host(device_empty({1}), gpu());  // waits for the queued work, so errors surface here
  const int64_t warm = system_allocs();
  for (int i = 0; i < 5; ++i) step();
  (void)to_host(device_empty({1}), gpu());
  INFO(what);
  CHECK(system_allocs() == warm);
}

}  // namespace

TEST_CASE("repeated cuda conv forward and backward allocate nothing new", "[cuda][steady]") {
  const Conv2dDesc conv{2, 2, 1, 1, 1, 1, 1};
  for (Layout layout : {Layout::nhwc, Layout::nchw}) {
    const Tensor x = device_random({8, 16, 15, 15}, layout, 1);
    const Tensor w = device_random({24, 16, 3, 3}, Layout::nchw, 2);
    const Tensor b = device_random({24}, Layout::nchw, 3);
    const Tensor dy = device_random({8, 24, 8, 8}, layout, 4);
    Tensor y = device_empty({8, 24, 8, 8}, layout), dx = device_empty(x.shape(), layout);
    Tensor dw = device_empty(w.shape()), db = device_empty(b.shape());
    check_steady(std::string("conv ") + test::layout_name(layout), [&] {
      gpu().conv2d_fwd(conv, x, w, b, y);
      gpu().conv2d_bwd_data(conv, dy, w, dx);
      gpu().conv2d_bwd_weights(conv, x, dy, dw, db);
    });
  }
}

TEST_CASE("a repeated cuda training step of every op kind allocates nothing new",
          "[cuda][steady]") {
  const Conv2dDesc conv{1, 1, 1, 1, 1, 1, 1};
  const Pool2dDesc pool{3, 3, 2, 2, 1, 1, false, true};
  const Shape act{8, 16, 16, 16}, pooled{8, 16, 8, 8};
  const Tensor x = device_random(act, Layout::nhwc, 5);
  const Tensor w = device_random({16, 16, 3, 3}, Layout::nchw, 6);
  const Tensor gamma = device_random({16}, Layout::nchw, 7);
  const Tensor beta = device_random({16}, Layout::nchw, 8);
  const Tensor fc = device_random({10, 16}, Layout::nchw, 9);
  const Tensor dloss = device_random({}, Layout::nchw, 10);
  const Tensor labels_gpu = to_device(labels({0, 1, 2, 3, 4, 5, 6, 7}), gpu());
  Tensor y = device_empty(act, Layout::nhwc), bn = device_empty(act, Layout::nhwc), none;
  Tensor rm = device_empty({16}), rv = device_empty({16}), mean = device_empty({16});
  Tensor invstd = device_empty({16}), dgamma = device_empty({16}), dbeta = device_empty({16});
  gpu().fill(rm, 0);
  gpu().fill(rv, 1);
  Tensor p = device_empty(pooled, Layout::nhwc), ws, g = device_empty({8, 16});
  Tensor logits = device_empty({8, 10}), loss = device_empty({}), probs = device_empty({8, 10});
  Tensor dlogits = device_empty({8, 10}), dg = device_empty({8, 16}), dfc = device_empty({10, 16});
  Tensor dp = device_empty(pooled, Layout::nhwc), dbn = device_empty(act, Layout::nhwc);
  Tensor dy = device_empty(act, Layout::nhwc), dx = device_empty(act, Layout::nhwc);
  Tensor dw = device_empty(w.shape()), momentum = device_empty(w.shape());
  Tensor wc = device_empty(w.shape());  // the weights the step updates
  Tensor sum = device_empty(act, Layout::nhwc), nchw = device_empty(act);
  gpu().copy(w, wc);
  gpu().fill(momentum, 0);
  check_steady("conv bn relu pool linear xent sgd", [&] {
    gpu().conv2d_fwd(conv, x, wc, none, y);
    gpu().batchnorm_relu_fwd_train({}, y, gamma, beta, rm, rv, bn, mean, invstd);
    gpu().maxpool_fwd(pool, bn, p, ws);
    gpu().global_avgpool_fwd(p, g);
    gpu().linear_fwd(g, fc, none, logits);
    gpu().softmax_xent_fwd(0.1, logits, labels_gpu, loss, probs);
    gpu().softmax_xent_bwd(0.1, probs, labels_gpu, dloss, dlogits);
    gpu().linear_bwd_data(dlogits, fc, dg);
    gpu().linear_bwd_weights(g, dlogits, dfc, none);
    gpu().global_avgpool_bwd(dg, dp);
    gpu().maxpool_bwd(pool, bn, dp, ws, dbn);
    gpu().batchnorm_relu_bwd({}, y, bn, dbn, gamma, beta, mean, invstd, dy, dgamma, dbeta);
    gpu().conv2d_bwd_data(conv, dy, wc, dx);
    gpu().conv2d_bwd_weights(conv, x, dy, dw, none);
    gpu().sgd_step({0.01, 0.9, 0, 5e-4, false, false, false}, wc, dw, momentum);
    gpu().copy(bn, nchw);
    gpu().add_fwd(nchw, bn, sum);  // mixed layouts
    (void)gpu().sum_squares(dw);
  });
}

}  // namespace mt::gputest
