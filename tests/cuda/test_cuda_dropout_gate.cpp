// The CUDA backend's random ops against the reference. Both draw from the shared counter-based
// formulas of core/backend.h (dropout_uniform on the logical index, gate_value per channel), so
// the GPU must drop exactly the elements the reference drops and sample exactly its gates.
#include "tests/cuda/gpu_compare.h"

namespace mt::gputest {
namespace {

using test::off_zero;
using test::uniform;

Case dropout_case(std::string name, Shape x, double p, uint64_t seed) {
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
void check_same_mask(const Case& c, Layout layout) {
  Rng rng(std::hash<std::string>{}(c.name));
  const Inputs master = c.inputs(rng, layout);
  ReferenceBackend ref;
  Inputs ref_in = for_reference(master), gpu_in = for_backend(master, gpu());
  const Tensor want = c.run(ref, ref_in)[0].value.to(Layout::nchw);
  const Tensor got = to_host(c.run(gpu(), gpu_in)[0].value, gpu()).to(Layout::nchw);
  int64_t differ = 0, dropped = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    differ += (got.data<float>()[i] == 0) != (want.data<double>()[i] == 0);
    dropped += want.data<double>()[i] == 0;
  }
  INFO(c.name << " [" << test::layout_name(layout) << "]: " << dropped << " of " << want.numel()
              << " dropped by the reference");
  CHECK(differ == 0);
  CHECK(dropped > 0);
}

std::vector<Case> dropout_cases() {
  return {dropout_case("dropout p 0.3 on 3x17x7x9", {3, 17, 7, 9}, 0.3, 1234),
          dropout_case("dropout p 0.5 on [8, 64]", {8, 64}, 0.5, 0xDEADBEEFCAFEull),
          dropout_case("dropout p 0.1 on 8x16x32x32", {8, 16, 32, 32}, 0.1, 7)};
}

struct GateCase {
  std::string name;
  Shape x;
  GateDesc d;
  bool dx = true, dlogits = true;  // which gradients to ask for
};

Case gate_case(const GateCase& g) {
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

std::vector<Case> gate_cases() {
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

}  // namespace

TEST_CASE("cuda dropout matches the reference", "[cuda][dropout]") {
  check_cases(dropout_cases());
}

TEST_CASE("cuda dropout drops exactly the reference's elements", "[cuda][dropout]") {
  for (const Case& c : dropout_cases())
    for (Layout layout : {Layout::nhwc, Layout::nchw})
      if (c.both_layouts || layout == Layout::nchw) check_same_mask(c, layout);
}

TEST_CASE("cuda gates match the reference in train and eval mode", "[cuda][gate]") {
  check_cases(gate_cases());
}

}  // namespace mt::gputest
