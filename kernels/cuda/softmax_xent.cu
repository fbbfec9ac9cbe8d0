// CudaBackend softmax cross-entropy with label smoothing, mean over the batch
// (kernels/reference/softmax_cross_entropy.h). The forward runs one warp per row (max, sum of
// exponentials, the row's loss, probs) in double, then one block adds the rows' losses in a fixed
// order: deterministic, no atomics. The backward reads dloss on the device, so nothing waits.
//
// Labels live on the GPU, so a label outside [0, K) cannot throw without a sync. It is caught on
// the device instead: its row's loss, and so the batch loss, becomes NaN, and its row of dlogits
// is NaN. A label is only compared with k, never used as an address, so nothing reads out of
// bounds; training visibly diverges instead of learning from a garbage target.
#include <cmath>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

namespace mt {
namespace {

using cuda::kThreads;
constexpr int kRowsPerBlock = kThreads / cuda::kWarpSize;

// A [N, K] f32 matrix read through its strides.
template <typename T>
struct Matrix {
  T* data;
  int64_t row, col;  // strides
  __device__ T& operator()(int64_t n, int64_t k) const { return data[n * row + k * col]; }
};

template <typename T>
Matrix<T> matrix(const Tensor& t) {
  return {t.data<float>(), t.stride(0), t.stride(1)};
}

struct Labels {
  const int64_t* data;
  int64_t stride;
  __device__ int64_t operator[](int64_t n) const { return data[n * stride]; }
};

Labels labels_of(const Tensor& t) { return {t.data<int64_t>(), t.stride(0)}; }

// The target weight of class k in a row labelled `label`: (1 - s) * onehot + s / K.
__device__ inline double smoothed_target(double s, int64_t K, int64_t label, int64_t k) {
  return (k == label ? 1 - s : 0) + s / K;
}

__device__ inline bool valid_label(int64_t label, int64_t K) { return label >= 0 && label < K; }

// One warp per row: probs = exp(log p), row_loss[n] = -sum_k q_k log p_k.
__global__ void softmax_rows_kernel(Matrix<const float> logits, Labels labels, Matrix<float> probs,
                                    int64_t N, int64_t K, double smoothing, double* row_loss) {
  const int64_t n = blockIdx.x * int64_t{kRowsPerBlock} + threadIdx.x / cuda::kWarpSize;
  const int lane = threadIdx.x % cuda::kWarpSize;
  if (n >= N) return;  // the whole warp: the shuffles below see all 32 lanes
  float top = -INFINITY;
  for (int64_t k = lane; k < K; k += cuda::kWarpSize) top = cuda::MaxOp{}(top, logits(n, k));
  top = cuda::warp_reduce(top, cuda::MaxOp{});
  double sum = 0;  // a NaN logit anywhere makes this NaN, as in the reference
  for (int64_t k = lane; k < K; k += cuda::kWarpSize) sum += exp(double(logits(n, k)) - top);
  const double log_sum = top + log(cuda::warp_sum(sum));
  const int64_t label = labels[n];
  double loss = 0;
  for (int64_t k = lane; k < K; k += cuda::kWarpSize) {
    const double log_p = double(logits(n, k)) - log_sum;
    loss -= smoothed_target(smoothing, K, label, k) * log_p;
    probs(n, k) = static_cast<float>(exp(log_p));
  }
  loss = cuda::warp_sum(loss);
  if (lane == 0) row_loss[n] = valid_label(label, K) ? loss : NAN;
}

// One block: loss = the mean of the rows' losses (0 for an empty batch, as the reference).
__global__ void mean_loss_kernel(const double* row_loss, int64_t N, float* loss) {
  double sum = 0;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) sum += row_loss[n];
  sum = cuda::block_sum(sum);
  if (threadIdx.x == 0) *loss = static_cast<float>(N > 0 ? sum / N : 0.0);
}

// dlogits = (p - q) * dloss / N, one thread per element.
__global__ void softmax_xent_bwd_kernel(Matrix<const float> probs, Labels labels,
                                        const float* dloss, Matrix<float> dlogits, int64_t N,
                                        int64_t K, double smoothing) {
  const double scale = double(*dloss) / N;
  for (int64_t i : cuda::grid_stride(N * K)) {
    const int64_t n = i / K, k = i - n * K;
    const int64_t label = labels[n];
    dlogits(n, k) = valid_label(label, K)
                        ? static_cast<float>(
                              (probs(n, k) - smoothed_target(smoothing, K, label, k)) * scale)
                        : NAN;
  }
}

// Returns N after checking logits-like [N, K] f32 and labels i64 [N], all on the GPU.
int64_t check_rows(const char* op, const Tensor& m, const char* what, const Tensor& labels) {
  cuda::check_device_tensor(m, op, what);
  MT_CHECK(m.rank() == 2, ShapeError, "[cuda ", op, "] ", what, " ", m.shape().str(),
           " must be [N, K]");
  cuda::check_device_tensor(labels, op, "labels", DType::i64);
  MT_CHECK(labels.shape() == Shape{m.dim(0)}, ShapeError, "[cuda ", op, "] labels ",
           labels.shape().str(), " for ", what, " ", m.shape().str(), ", expected [N]");
  return m.dim(0);
}

void check_scalar(const char* op, const Tensor& t, const char* what) {
  cuda::check_device_tensor(t, op, what);
  MT_CHECK(t.numel() == 1, ShapeError, "[cuda ", op, "] ", what, " ", t.shape().str(),
           " must be a scalar");
}

}  // namespace

void CudaBackend::softmax_xent_fwd(double label_smoothing, const Tensor& logits,
                                   const Tensor& labels, Tensor& loss, Tensor& probs) {
  constexpr const char* op = "softmax_xent_fwd";
  const int64_t N = check_rows(op, logits, "logits", labels), K = logits.dim(1);
  check_scalar(op, loss, "loss");
  cuda::check_device_tensor(probs, op, "probs");
  cuda::check_same_shape(probs, logits, op);
  const cudaStream_t stream = context_->stream();
  auto* row_loss = static_cast<double*>(context_->workspace(sizeof(double) * N));
  if (N > 0) {
    const auto blocks = static_cast<unsigned>((N + kRowsPerBlock - 1) / kRowsPerBlock);
    softmax_rows_kernel<<<blocks, kThreads, 0, stream>>>(matrix<const float>(logits),
                                                          labels_of(labels), matrix<float>(probs),
                                                          N, K, label_smoothing, row_loss);
    MT_CUDA_CHECK_LAUNCH();
  }
  mean_loss_kernel<<<1, kThreads, 0, stream>>>(row_loss, N, loss.data<float>());
  MT_CUDA_CHECK_LAUNCH();
}

void CudaBackend::softmax_xent_bwd(double label_smoothing, const Tensor& probs,
                                   const Tensor& labels, const Tensor& dloss, Tensor& dlogits) {
  constexpr const char* op = "softmax_xent_bwd";
  const int64_t N = check_rows(op, probs, "probs", labels), K = probs.dim(1);
  check_scalar(op, dloss, "dloss");
  cuda::check_device_tensor(dlogits, op, "dlogits");
  cuda::check_same_shape(dlogits, probs, op);
  if (N * K == 0) return;
  softmax_xent_bwd_kernel<<<cuda::blocks_for(N * K), kThreads, 0, context_->stream()>>>(
      matrix<const float>(probs), labels_of(labels), dloss.data<float>(), matrix<float>(dlogits),
      N, K, label_smoothing);
  MT_CUDA_CHECK_LAUNCH();
}

}  // namespace mt
