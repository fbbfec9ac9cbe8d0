// The CUDA backend's optimizer updates against the reference: SGD in each of its forms (momentum
// with dampening, Nesterov, the first step that seeds the buffer, decoupled weight decay, no
// momentum and no buffer at all), AdamW at its first and a later step, and the helpers gradient
// clipping uses (sum_squares, scale_inplace).
#include "tests/cuda/gpu_compare.h"

namespace mt::gputest {
namespace {

using test::uniform;

Case optimizer_case() {
  const Shape p{17, 5, 3, 3};
  auto inputs = [=](Rng& rng, Layout) {
    return Inputs{uniform(p, rng), uniform(p, rng), uniform(p, rng),
                  uniform(p, rng, Layout::nchw, 0, 1), uniform({1000, 37}, rng)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &param = in[0], &grad = in[1], &buf = in[2], &sq = in[3];
    Tensor none;
    // SgdDesc: lr, momentum, dampening, weight_decay, nesterov, decoupled, first_step.
    Tensor nesterov = dup(be, param), nesterov_buf = dup(be, buf);
    be.sgd_step({0.1, 0.9, 0, 5e-4, true, false, false}, nesterov, grad, nesterov_buf);
    Tensor damped = dup(be, param), damped_buf = dup(be, buf);
    be.sgd_step({0.1, 0.9, 0.1, 5e-4, false, false, false}, damped, grad, damped_buf);
    Tensor first = dup(be, param), first_buf = dup(be, buf);
    be.sgd_step({0.05, 0.9, 0, 1e-2, false, true, true}, first, grad, first_buf);
    Tensor first_nesterov = dup(be, param), first_nesterov_buf = dup(be, buf);
    be.sgd_step({0.1, 0.9, 0, 5e-4, true, false, true}, first_nesterov, grad, first_nesterov_buf);
    Tensor plain = dup(be, param);
    be.sgd_step({0.1, 0, 0, 1e-4, false, false, false}, plain, grad, none);

    // AdamWDesc: lr, beta1, beta2, eps, weight_decay, step.
    Tensor adam1 = dup(be, param), m1 = dup(be, param), v1 = dup(be, param);
    be.fill(m1, 0);
    be.fill(v1, 0);
    be.adamw_step({1e-3, 0.9, 0.999, 1e-8, 1e-2, 1}, adam1, grad, m1, v1);
    Tensor adam3 = dup(be, param), m3 = dup(be, buf), v3 = dup(be, sq);
    be.adamw_step({1e-2, 0.8, 0.99, 1e-6, 5e-2, 3}, adam3, grad, m3, v3);

    Tensor scaled = dup(be, grad);
    be.scale_inplace(scaled, -0.25);
    return Outputs{{"sgd nesterov p", nesterov},
                   {"sgd nesterov buf", nesterov_buf},
                   {"sgd dampening p", damped},
                   {"sgd dampening buf", damped_buf},
                   {"sgdw first step p", first},
                   {"sgdw first step buf", first_buf},
                   {"sgd nesterov first step p", first_nesterov},
                   {"sgd nesterov first step buf", first_nesterov_buf},
                   {"sgd no momentum p", plain},
                   {"adamw step 1 p", adam1},
                   {"adamw step 1 m", m1},
                   {"adamw step 1 v", v1},
                   {"adamw step 3 p", adam3},
                   {"adamw step 3 m", m3},
                   {"adamw step 3 v", v3},
                   {"scale_inplace", scaled},
                   {"sum_squares", host_scalar(be.sum_squares(grad))},
                   {"sum_squares 37000", host_scalar(be.sum_squares(in[4]))}};
  };
  return {"sgd adamw scale sum_squares", false, inputs, run};
}

}  // namespace

TEST_CASE("cuda optimizer steps match the reference", "[cuda][optim]") {
  check_cases({optimizer_case()});
}

}  // namespace mt::gputest
