// batchnorm_fwd_saved: the training forward's batch norm output again, from the statistics it
// saved, bit for bit (the executor drops a batch norm's output after forward and recomputes it for
// backward; a gradient must not change by a bit). Every backend that says it can is checked on
// odd widths, both layouts, with and without the fused ReLU and the affine parameters; a backend
// that cannot refuses by name.
#include <catch2/catch.hpp>

#include <cstring>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "tests/kernels/gradcheck.h"

namespace mt {
namespace {

// Whether two tensors of one shape hold the same bits, element for element in logical order.
bool same_bits(const Tensor& a, const Tensor& b) {
  const Tensor x = a.to(Layout::nchw), y = b.to(Layout::nchw);
  return x.nbytes() == y.nbytes() && std::memcmp(x.raw(), y.raw(), x.nbytes()) == 0;
}

void check_recompute(KernelBackend& be, DType dtype, Layout layout, const Shape& shape, bool affine, bool relu) {
  INFO(be.name() << " " << dtype_name(dtype) << " " << shape.str() << (layout == Layout::nhwc ? " nhwc" : " nchw")
                 << (affine ? " affine" : "") << (relu ? " relu" : ""));
  test::Rng rng(shape.numel());
  const Shape c{shape[1]};
  // Centred off zero and wide, so that the ReLU clamps part of every channel.
  const Tensor x = test::uniform(shape, rng, layout, -2, 3).to(dtype);
  const Tensor gamma = affine ? test::uniform(c, rng, Layout::nchw, -1.5, 1.5).to(dtype) : Tensor();
  const Tensor beta = affine ? test::uniform(c, rng).to(dtype) : Tensor();
  Tensor rm = Tensor::zeros(c, dtype), rv = Tensor::zeros(c, dtype);
  be.fill(rv, 1.0);
  Tensor mean = Tensor::empty(c, dtype), invstd = Tensor::empty(c, dtype);
  Tensor y = Tensor::empty(shape, dtype, layout), again = Tensor::empty(shape, dtype, layout);
  const BatchNormDesc d{};
  if (relu)
    be.batchnorm_relu_fwd_train(d, x, gamma, beta, rm, rv, y, mean, invstd);
  else
    be.batchnorm_fwd_train(d, x, gamma, beta, rm, rv, y, mean, invstd);
  const Tensor rm_after = rm.clone(), rv_after = rv.clone();
  be.batchnorm_fwd_saved(d, x, gamma, beta, mean, invstd, relu, again);
  CHECK(same_bits(y, again));
  // Nothing but y is written: the running statistics are as the forward left them.
  CHECK(same_bits(rm, rm_after));
  CHECK(same_bits(rv, rv_after));
}

}  // namespace

TEST_CASE("batchnorm_fwd_saved recomputes the training forward's output bit for bit", "[batchnorm][recompute]") {
  CpuBackend cpu;
  ReferenceBackend reference;
  REQUIRE(cpu.recomputes_batchnorm());
  REQUIRE(reference.recomputes_batchnorm());
  const std::vector<Shape> shapes{{3, 5, 7, 9}, {2, 17, 5, 3}, {8, 33, 1, 1}, {1, 16, 6, 6}};
  for (const Shape& shape : shapes)
    for (const bool relu : {false, true})
      for (const bool affine : {false, true}) {
        for (const Layout layout : {Layout::nhwc, Layout::nchw})
          check_recompute(cpu, DType::f32, layout, shape, affine, relu);
        for (const DType dtype : {DType::f32, DType::f64})
          check_recompute(reference, dtype, Layout::nchw, shape, affine, relu);
      }
}

TEST_CASE("a backend that cannot recompute a batch norm says so by name", "[batchnorm][recompute]") {
  // KernelBackend's default, as a backend without the kernel has it.
  struct Without : ReferenceBackend {
    std::string_view name() const override { return "without"; }
    bool recomputes_batchnorm() const override { return KernelBackend::recomputes_batchnorm(); }
    void batchnorm_fwd_saved(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                             const Tensor& mean, const Tensor& invstd, bool relu, Tensor& y) override {
      KernelBackend::batchnorm_fwd_saved(d, x, gamma, beta, mean, invstd, relu, y);
    }
  } without;
  CHECK_FALSE(without.recomputes_batchnorm());
  Tensor x = Tensor::zeros({2, 3, 2, 2}), y = x.clone(), mean = Tensor::zeros({3}), invstd = mean.clone();
  CHECK_THROWS_WITH(without.batchnorm_fwd_saved({}, x, Tensor(), Tensor(), mean, invstd, false, y),
                    Catch::Contains("the without backend does not recompute batch norms"));
}

}  // namespace mt
