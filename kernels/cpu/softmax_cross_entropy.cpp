// Softmax cross-entropy with label smoothing (PyTorch's F.cross_entropy, reduction 'mean'). Rows
// are independent: one OpenMP loop over the batch, each row in double.
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"

namespace mt {
namespace {

void check_xent(std::string_view op, const Tensor& logits, const Tensor& labels) {
  cpu::check_f32(op, logits);
  MT_CHECK(logits.rank() == 2, ShapeError, "[", op, "] logits ", logits.shape().str(),
           " must be [N, K]");
  const int64_t N = logits.dim(0), K = logits.dim(1);
  MT_CHECK(labels.dtype() == DType::i64 && labels.shape() == Shape{N}, ShapeError, "[", op,
           "] labels must be i64 [", N, "], got ", dtype_name(labels.dtype()), " ",
           labels.shape().str());
  const int64_t* l = labels.data<int64_t>();
  for (int64_t n = 0; n < N; ++n)
    MT_CHECK(l[n] >= 0 && l[n] < K, DataError, "[", op, "] label ", l[n], " in row ", n,
             " is outside [0, ", K, ")");
}

// (1 - s) * onehot(label) + s / K at class k.
double target(double s, int64_t K, int64_t label, int64_t k) {
  return (k == label ? 1 - s : 0) + s / static_cast<double>(K);
}

}  // namespace

void CpuBackend::softmax_xent_fwd(double s, const Tensor& logits, const Tensor& labels,
                                  Tensor& loss, Tensor& probs) {
  constexpr std::string_view op = "softmax_xent_fwd";
  check_xent(op, logits, labels);
  cpu::check_f32(op, {&loss, &probs});
  cpu::check_shape(op, logits, probs);
  MT_CHECK(loss.numel() == 1, ShapeError, "[", op, "] loss ", loss.shape().str(),
           " must be a scalar");
  const int64_t N = logits.dim(0), K = logits.dim(1);
  const float* L = logits.data<float>();
  float* P = probs.data<float>();
  const int64_t* l = labels.data<int64_t>();
  double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static) if (N * K >= cpu::kSerialBelow)
  for (int64_t n = 0; n < N; ++n) {
    const float* row = L + n * K;
    double max = row[0];
    for (int64_t k = 1; k < K; ++k) max = std::max<double>(max, row[k]);
    double sum = 0;
    for (int64_t k = 0; k < K; ++k) sum += std::exp(row[k] - max);
    const double log_sum = max + std::log(sum);
    for (int64_t k = 0; k < K; ++k) {
      const double log_p = row[k] - log_sum;
      total -= target(s, K, l[n], k) * log_p;
      P[n * K + k] = static_cast<float>(std::exp(log_p));
    }
  }
  loss.data<float>()[0] = static_cast<float>(N > 0 ? total / static_cast<double>(N) : 0.0);
}

void CpuBackend::softmax_xent_bwd(double s, const Tensor& probs, const Tensor& labels,
                                  const Tensor& dloss, Tensor& dlogits) {
  constexpr std::string_view op = "softmax_xent_bwd";
  check_xent(op, probs, labels);
  cpu::check_f32(op, {&dloss, &dlogits});
  cpu::check_shape(op, probs, dlogits);
  MT_CHECK(dloss.numel() == 1, ShapeError, "[", op, "] dloss ", dloss.shape().str(),
           " must be a scalar");
  const int64_t N = probs.dim(0), K = probs.dim(1);
  const float* P = probs.data<float>();
  float* D = dlogits.data<float>();
  const int64_t* l = labels.data<int64_t>();
  const double scale = static_cast<double>(dloss.data<float>()[0]) / static_cast<double>(N);
  cpu::parallel_for(
      N,
      [&](int64_t n) {
        for (int64_t k = 0; k < K; ++k)
          D[n * K + k] = static_cast<float>((P[n * K + k] - target(s, K, l[n], k)) * scale);
      },
      K);
}

}  // namespace mt
