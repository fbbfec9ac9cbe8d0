#pragma once
// Softmax cross-entropy with label smoothing, PyTorch's F.cross_entropy(reduction='mean'):
//   log p = logits - logsumexp(logits)                (max-shifted, so no overflow)
//   q     = (1 - s) * onehot(label) + s / K
//   loss  = mean_n ( -sum_k q_k log p_k )
//   dlogits = (p - q) * dloss / N
#include <cmath>

#include "kernels/reference/strided.h"

namespace mt::reference {

inline void expect_labels(std::string_view op, const Tensor& labels, int64_t N, int64_t K) {
  MT_CHECK(labels.dtype() == DType::i64 && labels.device().kind == DeviceKind::cpu, BackendError,
           "[", op, "] labels must be i64 on the cpu, got ", dtype_name(labels.dtype()));
  expect_shape(op, "labels", labels, Shape{N});
  for (int64_t n = 0; n < N; ++n) {
    const int64_t label = labels.data<int64_t>()[n * labels.stride(0)];
    MT_CHECK(label >= 0 && label < K, DataError, "[", op, "] label ", label, " in row ", n,
             " is outside [0, ", K, ")");
  }
}

// The target weight of class k in a row whose label is `label`.
inline Acc smoothed_target(double s, int64_t K, int64_t label, int64_t k) {
  return (k == label ? 1 - s : 0) + s / K;
}

template <typename T>
void softmax_xent_fwd(double s, const Tensor& logits, const Tensor& labels, Tensor& loss,
                      Tensor& probs) {
  constexpr std::string_view op = "softmax_xent_fwd";
  expect_dtype<T>(op, {&logits, &loss, &probs});
  expect_rank(op, "logits", logits, 2);
  const int64_t N = logits.dim(0), K = logits.dim(1);
  expect_labels(op, labels, N, K);
  MT_CHECK(loss.numel() == 1, ShapeError, "[", op, "] loss ", loss.shape().str(),
           " must be a scalar");
  expect_shape(op, "probs", probs, logits.shape());
  const View2<const T> L = view2<const T>(logits);
  const View2<T> P = view2<T>(probs);
  Acc total = 0;
  for (int64_t n = 0; n < N; ++n) {
    Acc max = L(n, 0);
    for (int64_t k = 1; k < K; ++k) max = std::max<Acc>(max, L(n, k));
    Acc sum = 0;
    for (int64_t k = 0; k < K; ++k) sum += std::exp(L(n, k) - max);
    const Acc log_sum = max + std::log(sum);
    const int64_t label = labels.data<int64_t>()[n * labels.stride(0)];
    for (int64_t k = 0; k < K; ++k) {
      const Acc log_p = L(n, k) - log_sum;
      total -= smoothed_target(s, K, label, k) * log_p;
      P(n, k) = static_cast<T>(std::exp(log_p));
    }
  }
  loss.data<T>()[0] = static_cast<T>(N > 0 ? total / N : 0);
}

template <typename T>
void softmax_xent_bwd(double s, const Tensor& probs, const Tensor& labels, const Tensor& dloss,
                      Tensor& dlogits) {
  constexpr std::string_view op = "softmax_xent_bwd";
  expect_dtype<T>(op, {&probs, &dloss, &dlogits});
  expect_rank(op, "probs", probs, 2);
  const int64_t N = probs.dim(0), K = probs.dim(1);
  expect_labels(op, labels, N, K);
  MT_CHECK(dloss.numel() == 1, ShapeError, "[", op, "] dloss ", dloss.shape().str(),
           " must be a scalar");
  expect_shape(op, "dlogits", dlogits, probs.shape());
  const View2<const T> P = view2<const T>(probs);
  const View2<T> D = view2<T>(dlogits);
  const Acc scale = Acc(dloss.data<T>()[0]) / N;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t label = labels.data<int64_t>()[n * labels.stride(0)];
    for (int64_t k = 0; k < K; ++k)
      D(n, k) = static_cast<T>((P(n, k) - smoothed_target(s, K, label, k)) * scale);
  }
}

}  // namespace mt::reference
