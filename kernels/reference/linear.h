#pragma once
// The fully connected layer in PyTorch's layout: y[n, m] = sum_k x[n, k] * w[m, k] + b[m].
#include "kernels/reference/strided.h"

namespace mt::reference {

// Checks x [N, K], w [M, K], y [N, M] and returns {N, K, M}.
inline std::array<int64_t, 3> linear_sizes(std::string_view op, const Tensor& x, const Tensor& w,
                                           const Tensor& y) {
  expect_rank(op, "x", x, 2);
  expect_rank(op, "w", w, 2);
  MT_CHECK(x.dim(1) == w.dim(1), ShapeError, "[", op, "] x ", x.shape().str(), " and w ",
           w.shape().str(), " disagree on the input features");
  expect_shape(op, "y", y, Shape{x.dim(0), w.dim(0)});
  return {x.dim(0), x.dim(1), w.dim(0)};
}

template <typename T>
void linear_fwd(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  expect_dtype<T>("linear_fwd", {&x, &w, &b, &y});
  const auto [N, K, M] = linear_sizes("linear_fwd", x, w, y);
  if (b.defined()) expect_shape("linear_fwd", "b", b, Shape{M});
  const View2<const T> X = view2<const T>(x), Wt = view2<const T>(w);
  const View2<T> Y = view2<T>(y);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m) {
      Acc sum = b.defined() ? Acc(b.data<T>()[m * b.stride(0)]) : 0;
      for (int64_t k = 0; k < K; ++k) sum += Acc(X(n, k)) * Acc(Wt(m, k));
      Y(n, m) = static_cast<T>(sum);
    }
}

// dx[n, k] = sum_m dy[n, m] * w[m, k]
template <typename T>
void linear_bwd_data(const Tensor& dy, const Tensor& w, Tensor& dx) {
  expect_dtype<T>("linear_bwd_data", {&dy, &w, &dx});
  const auto [N, K, M] = linear_sizes("linear_bwd_data", dx, w, dy);
  const View2<const T> DY = view2<const T>(dy), Wt = view2<const T>(w);
  const View2<T> DX = view2<T>(dx);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      Acc sum = 0;
      for (int64_t m = 0; m < M; ++m) sum += Acc(DY(n, m)) * Acc(Wt(m, k));
      DX(n, k) = static_cast<T>(sum);
    }
}

// dw[m, k] = sum_n dy[n, m] * x[n, k]; db[m] = sum_n dy[n, m]. Either may be undefined.
template <typename T>
void linear_bwd_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor& db) {
  expect_dtype<T>("linear_bwd_weights", {&x, &dy, &dw, &db});
  expect_rank("linear_bwd_weights", "x", x, 2);
  expect_rank("linear_bwd_weights", "dy", dy, 2);
  const int64_t N = x.dim(0), K = x.dim(1), M = dy.dim(1);
  expect_shape("linear_bwd_weights", "dy", dy, Shape{N, M});
  const View2<const T> X = view2<const T>(x), DY = view2<const T>(dy);
  if (dw.defined()) {
    expect_shape("linear_bwd_weights", "dw", dw, Shape{M, K});
    const View2<T> DW = view2<T>(dw);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k) {
        Acc sum = 0;
        for (int64_t n = 0; n < N; ++n) sum += Acc(DY(n, m)) * Acc(X(n, k));
        DW(m, k) = static_cast<T>(sum);
      }
  }
  if (db.defined()) {
    expect_shape("linear_bwd_weights", "db", db, Shape{M});
    for (int64_t m = 0; m < M; ++m) {
      Acc sum = 0;
      for (int64_t n = 0; n < N; ++n) sum += DY(n, m);
      db.data<T>()[m * db.stride(0)] = static_cast<T>(sum);
    }
  }
}

}  // namespace mt::reference
