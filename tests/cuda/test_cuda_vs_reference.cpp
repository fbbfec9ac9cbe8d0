// The CUDA backend against the f64 reference on every case of the shared backend-equivalence
// tables (tests/kernels/backend_cases_*.h; the CPU backend runs the same ones in
// tests/kernels/test_cpu_vs_reference.cpp), on gpu(): one CudaBackend with TF32 off.
#include "tests/cuda/gpu_compare.h"
#include "tests/kernels/backend_cases_conv.h"
#include "tests/kernels/backend_cases_eltwise.h"
#include "tests/kernels/backend_cases_optim.h"

namespace mt::gputest {

using namespace test;  // the case tables

TEST_CASE("cuda conv2d forward and backward match the reference", "[cuda][conv]") {
  check_cases(conv_cases());
}

TEST_CASE("cuda conv2d_bn_fwd_eval matches conv then batch norm (then relu)", "[cuda][conv]") {
  check_cases(conv_bn_cases());
}

TEST_CASE("cuda batchnorm and its fused relu epilogues match the reference", "[cuda][batchnorm]") {
  check_cases(batchnorm_cases());
}

TEST_CASE("cuda max and average pooling match the reference", "[cuda][pool]") {
  check_cases(pool_cases());
}

TEST_CASE("cuda ops write outputs in the other layout than their inputs", "[cuda]") {
  check_cases({mixed_layout_case()});
}

TEST_CASE("cuda element-wise ops match the reference", "[cuda][eltwise]") {
  check_cases({elementwise_case()});
}

TEST_CASE("cuda relu6, hardsigmoid and hardswish match the reference, at their kinks too",
          "[cuda][eltwise]") {
  check_cases({hard_activation_case()});
}

TEST_CASE("cuda concat, channel pad, global avgpool and device copies match the reference",
          "[cuda]") {
  check_cases({shape_ops_case()});
}

TEST_CASE("cuda linear and softmax cross-entropy match the reference", "[cuda][dense]") {
  check_cases({dense_case(0), dense_case(0.1)});
}

TEST_CASE("cuda ops accept empty tensors", "[cuda]") { check_cases({empty_case()}); }

TEST_CASE("cuda optimizer steps match the reference", "[cuda][optim]") {
  check_cases({optimizer_case()});
}

TEST_CASE("cuda dropout matches the reference", "[cuda][dropout]") { check_cases(dropout_cases()); }

TEST_CASE("cuda dropout drops exactly the reference's elements", "[cuda][dropout]") {
  check_same_masks(gpu());
}

TEST_CASE("cuda gates match the reference in train and eval mode", "[cuda][gate]") {
  check_cases(gate_cases());
}

}  // namespace mt::gputest
