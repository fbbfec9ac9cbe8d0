#pragma once
// Backend-equivalence cases (tests/kernels/backend_cases.h), part 3: the optimizer updates (SGD in
// each of its forms, AdamW at its first and a later step, and the helpers gradient clipping uses),
// and the random ops. Dropout and the FiGS gates draw from the shared counter-based formulas of
// core/backend.h (dropout_uniform on the logical index, gate_value per channel), so every backend
// must drop exactly the elements the reference drops and sample exactly its gates.
#include <cstdint>
#include <string>
#include <vector>

#include "tests/kernels/backend_cases.h"

namespace mt::test {

inline Case optimizer_case() {
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
    // PyTorch refuses Nesterov with dampening; the backends define it all the same.
    Tensor nesterov_damped = dup(be, param), nesterov_damped_buf = dup(be, buf);
    be.sgd_step({0.1, 0.9, 0.1, 5e-4, true, false, false}, nesterov_damped, grad,
                nesterov_damped_buf);
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
                   {"sgd nesterov dampening p", nesterov_damped},
                   {"sgd nesterov dampening buf", nesterov_damped_buf},
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

inline Case dropout_case(std::string name, Shape x, double p, uint64_t seed) {
  auto inputs = [=](Rng& rng, Layout l) {
    return Inputs{off_zero(x, rng, l), uniform(x, rng, l)};  // off zero: 0 in y means dropped
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    Tensor y = like(be, in[0], x), dx = like(be, in[0], x), mask;
    be.dropout_fwd(p, seed, in[0], y, mask);
    be.dropout_bwd(p, mask, in[1], dx);
    return Outputs{{"y", y}, {"dx", dx}};
  };
  return {std::move(name), x.rank() == 4, inputs, run};
}

// The elements dropped, position by position: the relative comparison alone could miss one
// dropped element among large kept ones.
inline void check_same_mask(KernelBackend& be, const Case& c, Layout layout) {
  Rng rng(std::hash<std::string>{}(c.name));
  const Inputs master = c.inputs(rng, layout);
  ReferenceBackend ref;
  Inputs ref_in = for_reference(master), be_in = for_backend(master, be);
  const Tensor want = c.run(ref, ref_in)[0].value.to(Layout::nchw);
  const Tensor got = to_host(c.run(be, be_in)[0].value, be).to(Layout::nchw);
  int64_t differ = 0, dropped = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    differ += (got.data<float>()[i] == 0) != (want.data<double>()[i] == 0);
    dropped += want.data<double>()[i] == 0;
  }
  INFO(c.name << " [" << layout_name(layout) << "]: " << dropped << " of " << want.numel()
              << " dropped by the reference");
  CHECK(differ == 0);
  CHECK(dropped > 0);
}

inline std::vector<Case> dropout_cases() {
  return {dropout_case("dropout p 0.3 on 3x17x7x9", {3, 17, 7, 9}, 0.3, 1234),
          dropout_case("dropout p 0.5 on [8, 64]", {8, 64}, 0.5, 0xDEADBEEFCAFEull),
          dropout_case("dropout p 0.1 on 8x16x32x32", {8, 16, 32, 32}, 0.1, 7)};
}

// Every dropout case on `be`, in each layout it asks for.
inline void check_same_masks(KernelBackend& be) {
  for (const Case& c : dropout_cases())
    for (Layout layout : {Layout::nhwc, Layout::nchw})
      if (c.both_layouts || layout == Layout::nchw) check_same_mask(be, c, layout);
}

struct GateCase {
  std::string name;
  Shape x;
  GateDesc d;
  bool dx = true, dlogits = true;  // which gradients to ask for
};

inline Case gate_case(const GateCase& g) {
  auto inputs = [=](Rng& rng, Layout l) {
    // Logits near the noise's scale, so that gates of every openness occur.
    const Layout dy_layout = g.x.rank() == 4 ? other_layout(l) : Layout::nchw;
    return Inputs{off_zero(g.x, rng, l), uniform({g.x[1]}, rng, Layout::nchw, -3, 3),
                  uniform(g.x, rng, dy_layout)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &x = in[0], &logits = in[1], &dy = in[2];
    Tensor y = like(be, x, g.x), gates;
    Tensor dx = g.dx ? poisoned(be, x, g.x, dy.layout()) : Tensor();
    Tensor dlogits = g.dlogits ? like(be, logits, logits.shape()) : Tensor();
    be.gate_fwd(g.d, x, logits, y, gates);
    be.gate_bwd(g.d, x, dy, gates, dx, dlogits);
    // Nearly hard gates rarely sit on their slope: dlogits may rightly be all zero then.
    const bool may_vanish = g.d.train && g.d.temperature < 0.01;
    Outputs out{{"y", y}, {"gates [2, C]", gates, kTol, may_vanish}};
    if (g.dx) out.push_back({"dx", dx});
    if (g.dlogits) out.push_back({"dlogits", dlogits, kTol, may_vanish});
    return out;
  };
  return {g.name, g.x.rank() == 4, inputs, run};
}

inline std::vector<Case> gate_cases() {
  // GateDesc: temperature, train, seed, relu.
  const GateDesc hard{0.001, true, 42, false}, soft_relu{0.5, true, 7, true};
  const GateDesc eval{0.001, false, 0, false}, eval_relu{0.001, false, 0, true};
  const Shape x{3, 17, 5, 7}, dense{4, 13};
  return {gate_case({"gate train T 0.001", x, hard}),
          gate_case({"gate train T 0.5 relu", x, soft_relu}),
          gate_case({"gate eval", x, eval}),
          gate_case({"gate eval relu", x, eval_relu}),
          gate_case({"gate train T 0.5 relu on [N, C]", dense, soft_relu}),
          gate_case({"gate eval on [N, C]", dense, eval}),
          gate_case({"gate train, dx undefined", x, soft_relu, false, true}),
          gate_case({"gate eval relu, dlogits undefined", x, eval_relu, true, false}),
          gate_case({"gate train relu 8x24x16x16", {8, 24, 16, 16}, {0.5, true, 99, true}})};
}

}  // namespace mt::test
