// Winograd convolutions on the CPU backend: which shapes take them, and that they do run (their
// results differ in the last bits from the direct algorithm's) while agreeing with it within f32
// tolerance. Their agreement with the f64 reference, forward and both backwards, is in the
// backend cases (tests/kernels/backend_cases_conv.h, the cases marked Winograd).
#include <catch2/catch.hpp>
#include <tuple>

#include "kernels/cpu/conv_winograd.h"
#include "kernels/cpu/cpu_backend.h"
#include "tests/kernels/gradcheck.h"

namespace mt {
namespace {

// Restores the switch however a test leaves.
struct WinogradSwitch {
  explicit WinogradSwitch(bool on) { cpu::set_winograd_enabled(on); }
  ~WinogradSwitch() { cpu::set_winograd_enabled(true); }
};

const Conv2dDesc kSame{1, 1, 1, 1, 1, 1, 1};  // stride 1, pad 1, dilation 1, groups 1

TEST_CASE("Winograd takes 3x3 stride-1 convolutions of 32 channels or more, in blocks of 16") {
  CHECK(cpu::winograd_applies(kSame, 32, 48, 3, 3));
  CHECK(cpu::winograd_applies({1, 1, 0, 0, 1, 1, 1}, 64, 64, 3, 3));  // no padding
  CHECK_FALSE(cpu::winograd_applies(kSame, 16, 16, 3, 3));            // measured: no gain
  CHECK_FALSE(cpu::winograd_applies(kSame, 32, 40, 3, 3));            // not a block multiple
  CHECK_FALSE(cpu::winograd_applies(kSame, 48, 32, 1, 1));            // 1x1
  CHECK_FALSE(cpu::winograd_applies({2, 2, 1, 1, 1, 1, 1}, 32, 32, 3, 3));  // stride 2
  CHECK_FALSE(cpu::winograd_applies({1, 1, 2, 2, 2, 2, 1}, 32, 32, 3, 3));  // dilation 2
  CHECK_FALSE(cpu::winograd_applies({1, 1, 1, 1, 1, 1, 2}, 32, 32, 3, 3));  // groups
  WinogradSwitch off(false);
  CHECK_FALSE(cpu::winograd_applies(kSame, 32, 48, 3, 3));
}

struct ConvResults {
  Tensor y, dx, dw;
};

ConvResults run_conv(const Tensor& x, const Tensor& w, const Tensor& dy) {
  CpuBackend be;
  ConvResults r{Tensor::empty(dy.shape(), DType::f32, Layout::nhwc),
                Tensor::empty(x.shape(), DType::f32, Layout::nhwc), Tensor::empty(w.shape())};
  Tensor no_bias;  // no bias gradient either
  be.conv2d_fwd(kSame, x, w, Tensor(), r.y);
  be.conv2d_bwd_data(kSame, dy, w, r.dx);
  be.conv2d_bwd_weights(kSame, x, dy, r.dw, no_bias);
  return r;
}

TEST_CASE("Winograd runs where it applies and agrees with the direct algorithm within f32") {
  if (!cpu::winograd_available()) {
    WARN("oneDNN has no Winograd kernel on this machine (it needs AVX-512): nothing to compare");
    return;
  }
  test::Rng rng(7);
  const Tensor x = test::uniform({4, 32, 11, 13}, rng, Layout::nhwc).to(DType::f32);
  const Tensor w = test::uniform({48, 32, 3, 3}, rng).to(DType::f32);
  const Tensor dy = test::uniform({4, 48, 11, 13}, rng, Layout::nhwc).to(DType::f32);
  const ConvResults wino = run_conv(x, w, dy);
  ConvResults direct;
  {
    WinogradSwitch off(false);
    direct = run_conv(x, w, dy);
  }
  for (auto [name, a, b] : {std::tuple{"y", wino.y, direct.y}, std::tuple{"dx", wino.dx, direct.dx},
                            std::tuple{"dw", wino.dw, direct.dw}}) {
    INFO(name);
    const double diff = max_rel_diff(a, b);
    CHECK(diff > 0);     // another algorithm ran: the same one would give the same bits
    CHECK(diff < 1e-5);  // and computed the same convolution
  }
}

}  // namespace
}  // namespace mt
