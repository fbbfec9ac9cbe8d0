// Fully connected layers on cuBLAS, in PyTorch's layout: x [N, K], w [M, K], y [N, M], all
// row-major. cuBLAS is column-major, and a row-major [R, C] matrix is the column-major [C, R]
// one in the same memory, so each product is written for the transposes (y = x w^T is
// y^T = w x^T) and no operand is copied.
#include <climits>

#include "kernels/cuda/conv_kernels.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/cuda_util.h"

namespace mt {
namespace {

void check_matrix(const char* op, const Tensor& t, const char* name, int64_t rows, int64_t cols) {
  MT_CHECK(t.shape() == Shape({rows, cols}), ShapeError, "[cuda ", op, "] ", name, " ",
           t.shape().str(), " must be [", rows, ", ", cols, "]");
  MT_CHECK(t.strides() == strides_for(t.shape(), Layout::nchw), BackendError, "[cuda ", op, "] ",
           name, " ", t.shape().str(), " is not a dense row-major matrix");
}

void check_rank2(const char* op, const Tensor& a, const char* a_name, const Tensor& b,
                 const char* b_name) {
  cuda::check_device_tensor(a, op, a_name);
  cuda::check_device_tensor(b, op, b_name);
  MT_CHECK(a.rank() == 2 && b.rank() == 2, ShapeError, "[cuda ", op, "] ", a_name, " ",
           a.shape().str(), " and ", b_name, " ", b.shape().str(), " must be matrices");
}

void check_vector(const char* op, const Tensor& t, const char* name, int64_t n) {
  cuda::check_device_tensor(t, op, name);
  MT_CHECK(t.shape() == Shape{n}, ShapeError, "[cuda ", op, "] ", name, " ", t.shape().str(),
           " must be [", n, "]");
}

// Column-major c [m, n] = op_a(a) op_b(b), a and b stored with leading dimensions lda and ldb;
// f32 accumulation, TF32 products when the backend allows them. m, n, k > 0.
struct Gemm {
  cublasOperation_t ta, tb;
  int64_t m, n, k;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float* c;
  int64_t ldc;
};

void gemm(CudaBackend& be, const char* op, const Gemm& g) {
  for (int64_t v : {g.m, g.n, g.k, g.lda, g.ldb, g.ldc})
    MT_CHECK(v <= INT_MAX, BackendError, "[cuda ", op, "] matrix size ", v,
             " beyond cuBLAS's int arguments");
  const float one = 1.0f, zero = 0.0f;
  const cublasComputeType_t compute =
      be.options().allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const auto i = [](int64_t v) { return static_cast<int>(v); };
  const cublasStatus_t status =
      cublasGemmEx(be.context().cublas(), g.ta, g.tb, i(g.m), i(g.n), i(g.k), &one, g.a,
                   CUDA_R_32F, i(g.lda), g.b, CUDA_R_32F, i(g.ldb), &zero, g.c, CUDA_R_32F,
                   i(g.ldc), compute, CUBLAS_GEMM_DEFAULT);
  MT_CHECK(status == CUBLAS_STATUS_SUCCESS, BackendError, "[cuda ", op, "] cublasGemmEx (m ", g.m,
           ", n ", g.n, ", k ", g.k, "): ", cuda::cublas_status_name(status));
}

}  // namespace

void CudaBackend::linear_fwd(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  constexpr const char* op = "linear_fwd";
  check_rank2(op, x, "x", w, "w");
  cuda::check_device_tensor(y, op, "y");
  const int64_t N = x.dim(0), K = x.dim(1), M = w.dim(0);
  check_matrix(op, x, "x", N, K);
  check_matrix(op, w, "w", M, K);
  check_matrix(op, y, "y", N, M);
  if (b.defined()) check_vector(op, b, "b", M);
  if (N == 0 || M == 0) return;
  if (K == 0)
    cuda::zero(*context_, y);  // no terms: the bias alone
  else  // y^T [M, N] = w [M, K] (stored as w^T) times x^T [K, N]
    gemm(*this, op, {CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, w.data<float>(), K, x.data<float>(), K,
                     y.data<float>(), M});
  if (b.defined())
    cuda::add_channel_bias(context_->stream(), y.data<float>(), b.data<float>(), N * M, M, 1,
                           true, false);
}

void CudaBackend::linear_bwd_data(const Tensor& dy, const Tensor& w, Tensor& dx) {
  constexpr const char* op = "linear_bwd_data";
  check_rank2(op, dy, "dy", w, "w");
  cuda::check_device_tensor(dx, op, "dx");
  const int64_t N = dy.dim(0), M = dy.dim(1), K = w.dim(1);
  check_matrix(op, w, "w", M, K);
  check_matrix(op, dy, "dy", N, M);
  check_matrix(op, dx, "dx", N, K);
  if (N == 0 || K == 0) return;
  if (M == 0)
    cuda::zero(*context_, dx);
  else  // dx^T [K, N] = w^T [K, M] (stored as is) times dy^T [M, N]
    gemm(*this, op, {CUBLAS_OP_N, CUBLAS_OP_N, K, N, M, w.data<float>(), K, dy.data<float>(), M,
                     dx.data<float>(), K});
}

void CudaBackend::linear_bwd_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor& db) {
  constexpr const char* op = "linear_bwd_weights";
  check_rank2(op, x, "x", dy, "dy");
  const int64_t N = x.dim(0), K = x.dim(1), M = dy.dim(1);
  check_matrix(op, x, "x", N, K);
  check_matrix(op, dy, "dy", N, M);
  if (dw.defined()) {
    cuda::check_device_tensor(dw, op, "dw");
    check_matrix(op, dw, "dw", M, K);
    if (M > 0 && K > 0) {
      if (N == 0)
        cuda::zero(*context_, dw);
      else  // dw^T [K, M] = x^T [K, N] times dy [N, M] (stored as dy^T)
        gemm(*this, op, {CUBLAS_OP_N, CUBLAS_OP_T, K, M, N, x.data<float>(), K, dy.data<float>(),
                         M, dw.data<float>(), K});
    }
  }
  if (!db.defined()) return;
  check_vector(op, db, "db", M);
  cuda::channel_sums(context_->stream(), dy.data<float>(), N, M, 1, db.data<float>(), device());
}

}  // namespace mt
