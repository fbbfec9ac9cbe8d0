// The thin-convolution kernels against the reference backend in f64, on odd shapes: every filter
// count of the thin-output path, several channel counts of the thin-input path, every pair of the
// path thin on both sides, borders on both sides, strides, kernels that are not square, and images
// narrower than the kernel.
#include <catch2/catch.hpp>
#include <cmath>
#include <sstream>

#include "kernels/cpu/conv_thin.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "tests/kernels/gradcheck.h"

namespace mt {
namespace {

struct ThinCase {
  int64_t n, c, h, w, o, kh, kw;
  Conv2dDesc d;
  bool bias, relu;
};

std::string describe(const ThinCase& k) {
  std::ostringstream s;
  s << "x [" << k.n << ", " << k.c << ", " << k.h << ", " << k.w << "] w [" << k.o << ", " << k.c << ", " << k.kh
    << ", " << k.kw << "] stride " << k.d.stride_h << "x" << k.d.stride_w << " pad " << k.d.pad_h << "x"
    << k.d.pad_w << (k.bias ? " bias" : "") << (k.relu ? " relu" : "");
  return s.str();
}

int64_t out_size(int64_t in, int64_t k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

// Max |thin - reference| / max |reference| over the output.
double thin_vs_reference(const ThinCase& k) {
  test::Rng rng(static_cast<uint64_t>(k.o * 131 + k.c * 7 + k.kh));
  const Shape ys{k.n, k.o, out_size(k.h, k.kh, k.d.stride_h, k.d.pad_h), out_size(k.w, k.kw, k.d.stride_w, k.d.pad_w)};
  const Tensor x64 = test::uniform({k.n, k.c, k.h, k.w}, rng);
  const Tensor w64 = test::uniform({k.o, k.c, k.kh, k.kw}, rng);
  const Tensor b64 = k.bias ? test::uniform({k.o}, rng) : Tensor();
  // The reference computes in f64 from the same f32-rounded values.
  const Tensor x = x64.to(DType::f32).to(Layout::nhwc), w = w64.to(DType::f32);
  const Tensor b = k.bias ? b64.to(DType::f32) : Tensor();
  Tensor y = Tensor::zeros(ys, DType::f32, Layout::nhwc);
  REQUIRE(cpu::thin_conv_applies(k.d, x, w, y));
  cpu::thin_conv_forward(k.d, x, w, b, y, k.relu);

  ReferenceBackend ref;
  Tensor y64 = Tensor::zeros(ys, DType::f64);
  ref.conv2d_fwd(k.d, x.to(DType::f64).to(Layout::nchw), w.to(DType::f64), k.bias ? b.to(DType::f64) : Tensor(), y64);
  if (k.relu) ref.relu_fwd(y64, y64);
  const Tensor got = y.to(Layout::nchw).to(DType::f64);
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < y64.numel(); ++i) {
    diff = std::max(diff, std::abs(got.data<double>()[i] - y64.data<double>()[i]));
    scale = std::max(scale, std::abs(y64.data<double>()[i]));
  }
  return diff / std::max(scale, 1e-30);
}

TEST_CASE("thin-output convolutions match the reference", "[cpu][conv_thin]") {
  for (int64_t o = 1; o <= cpu::kThinOutMax; ++o) {
    for (const ThinCase& k : {ThinCase{3, 16, 9, 13, o, 3, 3, {1, 1, 1, 1}, true, false},
                              ThinCase{2, 32, 7, 11, o, 3, 3, {2, 2, 1, 1}, false, true},
                              ThinCase{2, 16, 6, 5, o, 1, 1, {1, 1, 0, 0}, true, true},
                              ThinCase{1, 48, 5, 19, o, 3, 5, {1, 2, 2, 1}, true, false},
                              ThinCase{2, 16, 4, 2, o, 3, 3, {1, 1, 1, 1}, false, false}}) {
      INFO(describe(k));
      CHECK(thin_vs_reference(k) < 1e-5);
    }
  }
}

TEST_CASE("thin-input convolutions match the reference", "[cpu][conv_thin]") {
  for (const int64_t c : {1, 2, 3, 5, 8}) {
    for (const int64_t o : {16, 32, 48, 64}) {
      for (const ThinCase& k : {ThinCase{3, c, 9, 13, o, 3, 3, {1, 1, 1, 1}, true, true},
                                ThinCase{2, c, 8, 17, o, 3, 3, {2, 2, 1, 1}, false, false},
                                ThinCase{2, c, 5, 7, o, 1, 3, {1, 1, 0, 2}, true, false},
                                ThinCase{1, c, 3, 2, o, 3, 3, {1, 1, 1, 1}, true, true}}) {
        INFO(describe(k));
        CHECK(thin_vs_reference(k) < 1e-5);
      }
    }
  }
}

TEST_CASE("convolutions thin on both sides match the reference", "[cpu][conv_thin]") {
  // Rows of 13, 37 (three vectors, the last one partial) and 3 pixels; kernels wider than the
  // image; padding on one axis only; no padding.
  for (int64_t c = 1; c <= cpu::kThinInMax; ++c) {
    for (int64_t o = 1; o <= cpu::kThinOutMax; ++o) {
      for (const ThinCase& k : {ThinCase{3, c, 9, 13, o, 3, 3, {1, 1, 1, 1}, true, true},
                                ThinCase{2, c, 6, 37, o, 3, 3, {1, 1, 1, 1}, false, false},
                                ThinCase{2, c, 5, 7, o, 1, 3, {1, 1, 0, 2}, true, false},
                                ThinCase{1, c, 4, 3, o, 5, 5, {1, 1, 2, 2}, true, true},
                                ThinCase{2, c, 7, 18, o, 3, 3, {1, 1, 0, 0}, false, true}}) {
        INFO(describe(k));
        CHECK(thin_vs_reference(k) < 1e-5);
      }
    }
  }
}

TEST_CASE("thin kernels leave other convolutions to oneDNN", "[cpu][conv_thin]") {
  auto applies = [](int64_t c, int64_t o, Conv2dDesc d = {1, 1, 1, 1}, Layout l = Layout::nhwc) {
    const Tensor x = Tensor::zeros({2, c, 8, 8}, DType::f32, l);
    const Tensor w = Tensor::zeros({o, c / d.groups, 3, 3});
    const Tensor y = Tensor::zeros({2, o, 8, 8}, DType::f32, l);
    return cpu::thin_conv_applies(d, x, w, y);
  };
  CHECK(applies(16, 4));
  CHECK(applies(3, 16));
  {  // an ImageNet stem: 7x7, stride 2, which oneDNN runs 2.6x faster
    const Tensor x = Tensor::zeros({2, 3, 32, 32}, DType::f32, Layout::nhwc);
    const Tensor w = Tensor::zeros({64, 3, 7, 7});
    const Tensor y = Tensor::zeros({2, 64, 16, 16}, DType::f32, Layout::nhwc);
    CHECK_FALSE(cpu::thin_conv_applies({2, 2, 3, 3}, x, w, y));
  }
  CHECK(applies(4, 1));                      // thin on both sides
  CHECK_FALSE(applies(4, 1, {2, 2, 1, 1}));  // ... strided: not served
  CHECK_FALSE(applies(9, 4));                // 9 input channels: neither thin nor whole vectors
  CHECK_FALSE(applies(16, 16));              // wide on both sides
  CHECK_FALSE(applies(18, 4));               // input channels not in whole vectors
  CHECK_FALSE(applies(3, 24));               // filters not in whole vectors
  CHECK_FALSE(applies(16, 4, {}, Layout::nchw));
  CHECK_FALSE(applies(16, 4, {1, 1, 1, 1, 2, 2, 1}));  // dilated
  CHECK_FALSE(applies(16, 4, {1, 1, 1, 1, 1, 1, 2}));  // grouped
}

TEST_CASE("the CPU backend's convolution routes thin layers through the thin kernels", "[cpu][conv_thin]") {
  // The same call through CpuBackend::conv2d_fwd agrees with the reference (and so with oneDNN).
  const ThinCase k{4, 16, 10, 10, 3, 3, 3, {1, 1, 1, 1}, true, false};
  test::Rng rng(5);
  const Tensor x = test::uniform({k.n, k.c, k.h, k.w}, rng).to(DType::f32).to(Layout::nhwc);
  const Tensor w = test::uniform({k.o, k.c, 3, 3}, rng).to(DType::f32);
  const Tensor b = test::uniform({k.o}, rng).to(DType::f32);
  Tensor via_backend = Tensor::zeros({k.n, k.o, 10, 10}, DType::f32, Layout::nhwc);
  Tensor direct = Tensor::zeros({k.n, k.o, 10, 10}, DType::f32, Layout::nhwc);
  CpuBackend cpu;
  cpu.conv2d_fwd(k.d, x, w, b, via_backend);
  cpu::thin_conv_forward(k.d, x, w, b, direct, false);
  const float* a = via_backend.data<float>();
  const float* c = direct.data<float>();
  for (int64_t i = 0; i < direct.numel(); ++i) REQUIRE(a[i] == c[i]);

  // An output of the wrong size is refused, not written past.
  Tensor too_small = Tensor::zeros({k.n, k.o, 9, 10}, DType::f32, Layout::nhwc);
  CHECK_THROWS_AS(cpu.conv2d_fwd(k.d, x, w, b, too_small), ShapeError);
}

}  // namespace
}  // namespace mt
