// The oneDNN CPU backend against the f64 reference on every case of the shared backend-equivalence
// tables (backend_cases_*.h; the CUDA backend runs the same ones in tests/cuda), plus the CPU's own
// error messages.
#include <catch2/catch.hpp>

#include "kernels/cpu/cpu_backend.h"
#include "tests/kernels/backend_cases_conv.h"
#include "tests/kernels/backend_cases_eltwise.h"
#include "tests/kernels/backend_cases_optim.h"

namespace mt::test {
namespace {

// One backend for the process, as training shares one: its primitive cache then sees every case.
KernelBackend& cpu() {
  static CpuBackend backend;
  return backend;
}

}  // namespace

TEST_CASE("cpu conv2d forward and backward match the reference", "[cpu][conv]") {
  check_cases(cpu(), conv_cases());
}

TEST_CASE("cpu conv2d_bn_fwd_eval matches conv then batch norm (then relu)", "[cpu][conv]") {
  check_cases(cpu(), conv_bn_cases());
}

TEST_CASE("cpu batchnorm and its fused relu epilogues match the reference", "[cpu][batchnorm]") {
  check_cases(cpu(), batchnorm_cases());
}

TEST_CASE("cpu max and average pooling match the reference", "[cpu][pool]") {
  check_cases(cpu(), pool_cases());
}

TEST_CASE("cpu ops write outputs in the other layout than their inputs", "[cpu]") {
  check_cases(cpu(), {mixed_layout_case()});
}

TEST_CASE("cpu element-wise ops match the reference", "[cpu][eltwise]") {
  check_cases(cpu(), {elementwise_case()});
}

TEST_CASE("cpu relu6, hardsigmoid and hardswish match the reference, at their kinks too",
          "[cpu][eltwise]") {
  check_cases(cpu(), {hard_activation_case()});
}

TEST_CASE("cpu concat, channel pad, global avgpool and copies match the reference", "[cpu]") {
  check_cases(cpu(), {shape_ops_case()});
}

TEST_CASE("cpu linear and softmax cross-entropy match the reference", "[cpu][dense]") {
  check_cases(cpu(), {dense_case(0), dense_case(0.1)});
}

TEST_CASE("cpu ops accept empty tensors", "[cpu]") { check_cases(cpu(), {empty_case()}); }

TEST_CASE("cpu optimizer steps match the reference", "[cpu][optim]") {
  check_cases(cpu(), {optimizer_case()});
}

TEST_CASE("cpu dropout matches the reference", "[cpu][dropout]") {
  check_cases(cpu(), dropout_cases());
}

TEST_CASE("cpu dropout drops exactly the reference's elements", "[cpu][dropout]") {
  check_same_masks(cpu());
}

TEST_CASE("cpu gates match the reference in train and eval mode", "[cpu][gate]") {
  check_cases(cpu(), gate_cases());
}

TEST_CASE("cpu backend rejects f64 and bad labels with named errors", "[cpu]") {
  CpuBackend cpu;
  const Tensor x = Tensor::zeros({1, 2, 3, 3}, DType::f64);
  Tensor y = Tensor::zeros({1, 2, 3, 3}, DType::f64);
  CHECK_THROWS_WITH(cpu.relu_fwd(x, y), Catch::Contains("[relu_fwd]") && Catch::Contains("f32"));
  const Tensor logits = Tensor::zeros({2, 3});
  Tensor loss = Tensor::zeros({}), probs = Tensor::zeros({2, 3});
  CHECK_THROWS_AS(cpu.softmax_xent_fwd(0, logits, labels({0, 3}), loss, probs), DataError);
  CHECK_THROWS_AS(cpu.softmax_xent_fwd(0, logits, labels({-1, 0}), loss, probs), DataError);
}

}  // namespace mt::test
