// The row ops of structure learning (core/backend.h: row_stats, row_update): the reference on a
// case worked out by hand, the rule that a zero coefficient drops its term, the argument checks,
// and the CPU backend against the reference on odd shapes (tests/kernels/row_op_cases.h).
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "tests/kernels/row_op_cases.h"

namespace mt {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor f64(const Shape& shape, const std::vector<double>& v) {
  REQUIRE(static_cast<int64_t>(v.size()) == shape.numel());
  Tensor t = Tensor::empty(shape, DType::f64);
  std::copy(v.begin(), v.end(), t.data<double>());
  return t;
}

void check_exact(const Tensor& t, const std::vector<double>& expected) {
  REQUIRE(t.numel() == static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("element " << i);
    CHECK(t.data<double>()[i] == expected[i]);
  }
}

TEST_CASE("reference row ops on a hand-computed case", "[reference][row_ops]") {
  ReferenceBackend be;
  const Tensor x = f64({2, 3}, {1, -2, 0, 3, 0.5, -0.5});
  Tensor stats = Tensor::empty({2, 3}, DType::f64);
  be.row_stats(x, stats);
  // Row 0: 1 + 4 + 0, 1 + 2 + 0, 1 - 2 + 0. Row 1: 9 + 0.25 + 0.25, 3 + 0.5 + 0.5, 3 + 0.5 - 0.5.
  check_exact(stats, {5, 3, -1, 9.5, 4, 3});

  // Row 0: y = 2 y + 0.5 x - sign(x) + 0.25. Row 1: c0 = 0 overwrites y (NaN and inf there):
  // y = x - 1.
  const Tensor coef = f64({2, 4}, {2, 0.5, -1, 0.25, 0, 1, 0, -1});
  Tensor y = f64({2, 3}, {10, 20, 30, kNaN, kInf, -7});
  be.row_update(x, coef, y);
  check_exact(y, {20 + 0.5 - 1 + 0.25, 40 - 1 + 1 + 0.25, 60 + 0.25, 2, -0.5, -1.5});

  // In place (y = x): row 0 scaled by 0.5, row 1 plus its signs.
  Tensor z = x.clone();
  be.row_update(z, f64({2, 4}, {0.5, 0, 0, 0, 1, 0, 1, 0}), z);
  check_exact(z, {0.5, -1, 0, 4, 1.5, -1.5});

  // A 4-D weight is [O, I * kH * kW]: the sums run over each output filter.
  const Tensor w = f64({2, 1, 2, 2}, {1, 1, 1, 1, -1, 2, -3, 4});
  Tensor ws = Tensor::empty({2, 3}, DType::f64);
  be.row_stats(w, ws);
  check_exact(ws, {4, 4, 4, 30, 10, 2});
}

TEST_CASE("row_update: a zero coefficient drops its term, the identity leaves y bit for bit",
          "[reference][cpu][row_ops]") {
  ReferenceBackend ref;
  CpuBackend cpu;
  for (KernelBackend* be : {static_cast<KernelBackend*>(&ref), static_cast<KernelBackend*>(&cpu)}) {
    INFO(be->name());
    const Tensor x = f64({2, 2}, {kNaN, kInf, -kInf, 1}).to(DType::f32);
    Tensor y = f64({2, 2}, {1, -0.0, kNaN, 2}).to(DType::f32);
    // Row 0 is the identity over a NaN and an inf in x; row 1 keeps y and adds 3 x only.
    be->row_update(x, f64({2, 4}, {1, 0, 0, 0, 1, 3, 0, 0}).to(DType::f32), y);
    const float* p = y.data<float>();
    CHECK(p[0] == 1);
    CHECK(p[1] == 0);
    CHECK(std::signbit(p[1]));  // -0 stays -0
    CHECK(std::isnan(p[2]));    // c0 = 1 keeps a NaN y: only a zero coefficient drops it
    CHECK(p[3] == 5);
  }
}

TEST_CASE("row ops reject what they cannot compute, naming the op", "[reference][cpu][row_ops]") {
  ReferenceBackend ref;
  CpuBackend cpu;
  const Tensor x = Tensor::zeros({4, 3}, DType::f32);
  Tensor out = Tensor::zeros({4, 3}, DType::f32), y = Tensor::zeros({4, 3}, DType::f32);
  for (KernelBackend* be : {static_cast<KernelBackend*>(&ref), static_cast<KernelBackend*>(&cpu)}) {
    INFO(be->name());
    Tensor wrong_rows = Tensor::zeros({3, 3}, DType::f32);
    CHECK_THROWS_AS(be->row_stats(x, wrong_rows), ShapeError);
    CHECK_THROWS_WITH(be->row_stats(x, wrong_rows), Catch::Contains("[row_stats]"));
    CHECK_THROWS_AS(be->row_update(x, Tensor::zeros({4, 3}, DType::f32), y), ShapeError);
    Tensor other_shape = Tensor::zeros({4, 2}, DType::f32);
    CHECK_THROWS_AS(be->row_update(x, Tensor::zeros({4, 4}, DType::f32), other_shape), ShapeError);
    Tensor scalar_out = Tensor::zeros({1, 3}, DType::f32);
    CHECK_THROWS_AS(be->row_stats(Tensor::zeros({}, DType::f32), scalar_out), ShapeError);
    Tensor nhwc_out = Tensor::zeros({2, 3}, DType::f32);
    CHECK_THROWS_AS(be->row_stats(Tensor::zeros({2, 3, 2, 2}, DType::f32, Layout::nhwc), nhwc_out),
                    ShapeError);
    Tensor out64 = Tensor::zeros({4, 3}, DType::f64);
    CHECK_THROWS_AS(be->row_stats(x, out64), BackendError);
  }
  const Tensor x64 = Tensor::zeros({4, 3}, DType::f64);
  Tensor out64 = Tensor::zeros({4, 3}, DType::f64);
  CHECK_THROWS_WITH(cpu.row_stats(x64, out64), Catch::Contains("f32 only"));
  CHECK_NOTHROW(ref.row_stats(x64, out64));
  CHECK_NOTHROW(cpu.row_stats(x, out));
}

TEST_CASE("cpu row ops match the reference on odd shapes", "[cpu][row_ops]") {
  ReferenceBackend ref;
  CpuBackend cpu;
  for (const test::RowOpShape& s : test::row_op_shapes()) {
    DYNAMIC_SECTION(s.name) {
      test::Rng rng(std::hash<std::string>{}(s.name));
      const std::vector<Tensor> master = test::row_op_inputs(s.shape, rng);
      // The reference sees the f32 values in f64: what remains is the CPU's f32 arithmetic.
      std::vector<Tensor> ref_in, cpu_in;
      for (const Tensor& t : master) {
        cpu_in.push_back(t.to(DType::f32));
        ref_in.push_back(cpu_in.back().to(DType::f64));
      }
      const auto want = test::run_row_ops(ref, ref_in);
      const auto got = test::run_row_ops(cpu, cpu_in);
      REQUIRE(got.size() == want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        const double err = max_rel_diff(got[i].second, want[i].second);
        INFO(want[i].first << " " << want[i].second.shape().str() << ": rel diff " << err);
        CHECK(err < 1e-6);  // NaN where the reference has none (or none where it has) is infinite
        int64_t nans = 0;  // c0 = 0 overwrote every NaN of y
        for (int64_t k = 0; k < want[i].second.numel(); ++k) nans += std::isnan(want[i].second.data<double>()[k]);
        CHECK(nans == 0);
      }
      if (s.shape.numel() > 0)  // the comparison saw numbers, not zeros alone
        CHECK(max_rel_diff(want[0].second, Tensor::zeros(want[0].second.shape(), DType::f64)) > 0);
    }
  }
}

}  // namespace
}  // namespace mt
