// CudaBackend batch norm (kernels/reference/batchnorm2d.h), plain and with a fused ReLU, on own
// kernels in three launches per call:
//   sums      per (slab of positions, channel): two sums in double, into a scratch [2, slabs, C];
//   finish    one warp per channel adds its slabs and writes the [C] outputs (saved statistics,
//             running statistics, dgamma, dbeta) and the per-channel coefficients of the next pass;
//   apply     one elementwise pass: y = (x - mean) * scale + beta, or dx = a dy - b (x - mean) - c.
// No float atomics: the sums are deterministic for a given shape and device.
//
// nhwc (the backend's layout) is the fast path: memory is then [M, C] with the channel innermost,
// and a block takes a tile of channels by a few rows, so a warp reads consecutive addresses and
// each thread keeps one channel (no index division). nchw runs one block row per channel.
#include <algorithm>
#include <cmath>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

namespace mt {
namespace {

using cuda::kThreads;
using cuda::quotient;

// Positions each thread visits, at least, in a pass: fewer blocks then mean fewer partials.
constexpr int64_t kSumRowsPerThread = 8;
constexpr int64_t kApplyRowsPerThread = 4;

// How the elements of a [N, C, H, W] tensor reach their channel. M = N * H * W values per channel.
// channels_last: memory is [M, C] (nhwc, or nchw with H * W == 1); otherwise [N, C, H * W].
struct Geometry {
  int64_t C = 0, HW = 0, M = 0, numel = 0;
  bool channels_last = false;
};

Geometry geometry_of(const Tensor& x) {
  Geometry g;
  g.C = x.dim(1);
  g.HW = x.dim(2) * x.dim(3);
  g.M = x.dim(0) * g.HW;
  g.numel = x.numel();
  g.channels_last = x.stride(1) == 1;
  return g;
}

// ---- the terms of the two per-channel sums, for one element i whose channel holds `ref`

// Forward: v = x - shift and v^2, where the shift is x[0, c, 0, 0]: near the mean in any real
// batch, so E[v^2] - E[v]^2 does not cancel when |mean| >> std.
struct MomentTerms {
  const float* x;
  int64_t channel_stride;  // x[c * channel_stride] is x[0, c, 0, 0]
  __device__ float reference(int64_t c) const { return x[c * channel_stride]; }
  __device__ double2 operator()(int64_t i, float shift) const {
    const double v = double(x[i]) - shift;
    return {v, v * v};
  }
};

// The gradient reaching the batch norm: dy, masked by y > 0 when a ReLU is fused after it.
template <bool Relu>
__device__ inline float bn_grad(const float* dy, const float* y, int64_t i) {
  if constexpr (Relu) return y[i] > 0 ? dy[i] : 0.0f;
  return dy[i];
}

// Backward: dy and dy * (x - mean).
template <bool Relu>
struct GradTerms {
  const float *x, *dy, *y, *mean;
  __device__ float reference(int64_t c) const { return mean[c]; }
  __device__ double2 operator()(int64_t i, float m) const {
    const double g = bn_grad<Relu>(dy, y, i);
    return {g, g * (double(x[i]) - m)};
  }
};

// ---- pass 1: partial sums. partial[k][slab][c] for k = 0, 1; the slab is blockIdx.y.

template <typename Terms>
__global__ void row_sums_kernel(Terms terms, int64_t M, int64_t C, double* partial) {
  extern __shared__ double tile_sums[];  // [2][blockDim.y][blockDim.x]
  const int tx = threadIdx.x, ty = threadIdx.y, bx = blockDim.x, by = blockDim.y;
  const int64_t c = blockIdx.x * int64_t{bx} + tx;
  double s1 = 0, s2 = 0;
  if (c < C) {
    const float ref = terms.reference(c);
#pragma unroll 4  // independent loads in flight: the loop is bound by memory latency
    for (int64_t r = blockIdx.y * int64_t{by} + ty; r < M; r += int64_t{gridDim.y} * by) {
      const double2 t = terms(r * C + c, ref);
      s1 += t.x;
      s2 += t.y;
    }
  }
  double* sum1 = tile_sums;
  double* sum2 = tile_sums + bx * by;
  const int me = ty * bx + tx;
  sum1[me] = s1;
  sum2[me] = s2;
  __syncthreads();
  int half = 1;  // fold the rows of the tile: a tree over any blockDim.y
  while (2 * half < by) half *= 2;
  for (int step = half; step > 0; step /= 2) {
    if (ty < step && ty + step < by) {
      sum1[me] += sum1[me + step * bx];
      sum2[me] += sum2[me + step * bx];
    }
    __syncthreads();
  }
  if (ty == 0 && c < C) {
    partial[blockIdx.y * C + c] = sum1[tx];
    partial[(gridDim.y + blockIdx.y) * C + c] = sum2[tx];
  }
}

// nchw: block (c, slab) walks its share of channel c's N planes of H * W.
template <typename Terms>
__global__ void plane_sums_kernel(Terms terms, int64_t M, int64_t C, int64_t HW, double* partial) {
  const int64_t c = blockIdx.x;
  const float ref = terms.reference(c);
  double s1 = 0, s2 = 0;
  for (int64_t j = blockIdx.y * int64_t{blockDim.x} + threadIdx.x; j < M;
       j += int64_t{gridDim.y} * blockDim.x) {
    const int64_t n = quotient(j, HW);
    const double2 t = terms((n * C + c) * HW + (j - n * HW), ref);
    s1 += t.x;
    s2 += t.y;
  }
  s1 = cuda::block_sum(s1);
  s2 = cuda::block_sum(s2);
  if (threadIdx.x == 0) {
    partial[blockIdx.y * C + c] = s1;
    partial[(gridDim.y + blockIdx.y) * C + c] = s2;
  }
}

// ---- pass 2: one warp per channel. Returns the channel's two totals to every lane.
__device__ inline double2 channel_totals(const double* partial, int slabs, int64_t C, int64_t c) {
  double s1 = 0, s2 = 0;
  for (int s = threadIdx.x % cuda::kWarpSize; s < slabs; s += cuda::kWarpSize) {
    s1 += partial[s * C + c];
    s2 += partial[(slabs + s) * C + c];
  }
  return {cuda::warp_sum(s1), cuda::warp_sum(s2)};
}

__device__ inline int64_t warp_channel() {
  return (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / cuda::kWarpSize;
}

// [C] tensors of the training forward; null where undefined.
struct TrainChannels {
  const float *gamma, *beta;
  float *running_mean, *running_var, *save_mean, *save_invstd;
  double eps, momentum;
};

// coef [3][C]: mean, gamma * invstd, beta.
__global__ void finish_stats_kernel(const double* partial, int slabs, int64_t C, int64_t M,
                                    MomentTerms shift, TrainChannels p, float* coef) {
  const int64_t c = warp_channel();
  if (c >= C) return;  // whole warps leave together: the shuffles below see all 32 lanes
  const double2 s = channel_totals(partial, slabs, C, c);
  if (threadIdx.x % cuda::kWarpSize != 0) return;
  const double dmean = s.x / M;
  const double mean = shift.reference(c) + dmean;
  const double var = fmax(0.0, s.y / M - dmean * dmean);
  const double invstd = 1 / sqrt(var + p.eps);
  coef[c] = static_cast<float>(mean);
  coef[C + c] = static_cast<float>((p.gamma ? p.gamma[c] : 1.0) * invstd);
  coef[2 * C + c] = p.beta ? p.beta[c] : 0.0f;
  if (p.save_mean) p.save_mean[c] = static_cast<float>(mean);
  if (p.save_invstd) p.save_invstd[c] = static_cast<float>(invstd);
  const double m = p.momentum;
  if (p.running_mean)
    p.running_mean[c] = static_cast<float>((1 - m) * p.running_mean[c] + m * mean);
  if (p.running_var)  // PyTorch keeps the unbiased variance
    p.running_var[c] = static_cast<float>((1 - m) * p.running_var[c] + m * var * M / (M - 1));
}

// Eval: the same coefficients from the running statistics, one thread per channel.
__global__ void eval_coef_kernel(int64_t C, const float* gamma, const float* beta,
                                 const float* running_mean, const float* running_var, double eps,
                                 float* coef) {
  for (int64_t c : cuda::grid_stride(C)) {
    const double invstd = 1 / sqrt(double(running_var[c]) + eps);
    coef[c] = running_mean[c];
    coef[C + c] = static_cast<float>((gamma ? gamma[c] : 1.0) * invstd);
    coef[2 * C + c] = beta ? beta[c] : 0.0f;
  }
}

// [C] tensors of the backward; null where undefined (gamma: no affine).
struct GradChannels {
  const float *gamma, *mean, *invstd;
  float *dgamma, *dbeta;
};

// With sums s1 = sum dy, s2 = sum dy (x - mean) and a = gamma * invstd, the reference's
// dx = a (dy - s1 / M - xhat * s2 invstd / M) is a dy - b (x - mean) - k with
// b = a invstd^2 s2 / M and k = a s1 / M. coef [4][C]: mean, a, b, k.
__global__ void finish_grad_kernel(const double* partial, int slabs, int64_t C, int64_t M,
                                   GradChannels p, float* coef) {
  const int64_t c = warp_channel();
  if (c >= C) return;
  const double2 s = channel_totals(partial, slabs, C, c);
  if (threadIdx.x % cuda::kWarpSize != 0) return;
  const double invstd = p.invstd[c];
  if (p.dbeta) p.dbeta[c] = static_cast<float>(s.x);
  if (p.dgamma) p.dgamma[c] = static_cast<float>(s.y * invstd);
  const double a = (p.gamma ? p.gamma[c] : 1.0) * invstd;
  const double per = M > 0 ? 1.0 / M : 0.0;
  coef[c] = p.mean[c];
  coef[C + c] = static_cast<float>(a);
  coef[2 * C + c] = static_cast<float>(a * invstd * invstd * s.y * per);
  coef[3 * C + c] = static_cast<float>(a * s.x * per);
}

// ---- pass 3: elementwise, with the channel's coefficients loaded once per thread (nhwc).

template <bool Relu>
struct NormaliseOp {
  const float* x;
  float* y;
  const float* coef;
  int64_t C;
  __device__ float4 channel(int64_t c) const {
    return {coef[c], coef[C + c], coef[2 * C + c], 0.0f};
  }
  __device__ void operator()(int64_t i, const float4& k) const {
    const float v = fmaf(x[i] - k.x, k.y, k.z);
    y[i] = Relu ? (v > 0 ? v : 0.0f) : v;
  }
};

template <bool Relu>
struct GradInputOp {
  const float *x, *dy, *y;
  float* dx;
  const float* coef;
  int64_t C;
  __device__ float4 channel(int64_t c) const {
    return {coef[c], coef[C + c], coef[2 * C + c], coef[3 * C + c]};
  }
  __device__ void operator()(int64_t i, const float4& k) const {
    const float g = bn_grad<Relu>(dy, y, i);
    dx[i] = fmaf(k.y, g, -fmaf(k.z, x[i] - k.x, k.w));
  }
};

template <typename Op>
__global__ void rows_apply_kernel(Op op, int64_t M, int64_t C) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (c >= C) return;
  const float4 k = op.channel(c);
#pragma unroll 4
  for (int64_t r = blockIdx.y * int64_t{blockDim.y} + threadIdx.y; r < M;
       r += int64_t{gridDim.y} * blockDim.y)
    op(r * C + c, k);
}

template <typename Op>
__global__ void planes_apply_kernel(Op op, int64_t n, int64_t C, int64_t HW) {
  for (int64_t i : cuda::grid_stride(n)) {
    const int64_t plane = quotient(i, HW);
    op(i, op.channel(plane - quotient(plane, C) * C));
  }
}

// ---- launches

struct Launch {
  dim3 grid, block;
};

// nhwc: a tile of channels (all of them up to 256, so a warp reads whole rows back to back; else
// 32) by as many rows as fill 256 threads; grid.y slabs of rows, each thread visiting at least
// `rows_per_thread` rows where M allows, and no more blocks than fill the GPU.
Launch row_launch(const Geometry& g, int64_t rows_per_thread) {
  const int64_t tile = g.C <= kThreads ? g.C : cuda::kWarpSize;
  const int64_t rows = kThreads / tile;
  const int64_t tiles = (g.C + tile - 1) / tile;
  const int64_t wanted = (g.M + rows * rows_per_thread - 1) / (rows * rows_per_thread);
  const int64_t cap = std::max<int64_t>(1, cuda::reduction_blocks_limit() / tiles);
  const int64_t slabs = std::clamp<int64_t>(wanted, 1, std::min<int64_t>(cap, 65535));
  return {dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(slabs)),
          dim3(static_cast<unsigned>(tile), static_cast<unsigned>(rows))};
}

Launch sums_launch(const Geometry& g) {
  if (g.channels_last) return row_launch(g, kSumRowsPerThread);
  const int64_t wanted = (g.M + kThreads * kSumRowsPerThread - 1) / (kThreads * kSumRowsPerThread);
  const int64_t cap = std::max<int64_t>(1, cuda::reduction_blocks_limit() / g.C);
  const int64_t slabs = std::clamp<int64_t>(wanted, 1, std::min<int64_t>(cap, 65535));
  return {dim3(static_cast<unsigned>(g.C), static_cast<unsigned>(slabs)), dim3(kThreads)};
}

// Scratch for one call: the partials [2][slabs][C] (double), then coef [4][C] (float).
struct Scratch {
  double* partial;
  float* coef;
  int slabs;
};

Scratch scratch_for(cuda::Context& ctx, const Geometry& g, const Launch& sums) {
  const int64_t slabs = sums.grid.y;
  const size_t partial_bytes = sizeof(double) * 2 * slabs * g.C;
  auto* base = static_cast<char*>(ctx.workspace(partial_bytes + sizeof(float) * 4 * g.C));
  return {reinterpret_cast<double*>(base), reinterpret_cast<float*>(base + partial_bytes),
          static_cast<int>(slabs)};
}

template <typename Terms>
void launch_sums(cudaStream_t stream, const Geometry& g, const Launch& l, Terms terms,
                 double* partial) {
  if (g.channels_last) {
    const size_t shared = 2 * sizeof(double) * l.block.x * l.block.y;
    row_sums_kernel<<<l.grid, l.block, shared, stream>>>(terms, g.M, g.C, partial);
  } else {
    plane_sums_kernel<<<l.grid, l.block, 0, stream>>>(terms, g.M, g.C, g.HW, partial);
  }
  MT_CUDA_CHECK_LAUNCH();
}

unsigned finish_blocks(int64_t C) {
  return static_cast<unsigned>((C * cuda::kWarpSize + kThreads - 1) / kThreads);
}

template <typename Op>
void launch_apply(cudaStream_t stream, const Geometry& g, const Op& op) {
  if (g.numel == 0) return;
  if (g.channels_last) {
    const Launch l = row_launch(g, kApplyRowsPerThread);
    rows_apply_kernel<<<l.grid, l.block, 0, stream>>>(op, g.M, g.C);
  } else {
    planes_apply_kernel<<<cuda::blocks_for(g.numel), kThreads, 0, stream>>>(op, g.numel, g.C,
                                                                            g.HW);
  }
  MT_CUDA_CHECK_LAUNCH();
}

// ---- tensors: every kernel indexes x, y, dy and dx alike, so they must lie in x's order.

const float* ptr(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }
float* mut(Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

void check_x(const char* op, const Tensor& x) {
  cuda::check_device_tensor(x, op, "x");
  MT_CHECK(x.rank() == 4, ShapeError, "[cuda ", op, "] x ", x.shape().str(), " must be rank 4");
}

void check_like_x(const char* op, const Tensor& t, const Tensor& x, const char* what) {
  cuda::check_device_tensor(t, op, what);
  cuda::check_same_shape(t, x, op);
}

void check_channels(const char* op, const Tensor& x, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    cuda::check_device_tensor(*t, op, "per-channel tensor");
    MT_CHECK(t->shape() == Shape{x.dim(1)}, ShapeError, "[cuda ", op, "] per-channel tensor ",
             t->shape().str(), " for x ", x.shape().str());
  }
}

// ---- the three entry points, with the ReLU as a template switch

template <bool Relu>
void train_forward(CudaBackend& be, const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                   const Tensor& beta, Tensor& running_mean, Tensor& running_var, Tensor& y,
                   Tensor& save_mean, Tensor& save_invstd) {
  const char* op = Relu ? "batchnorm_relu_fwd_train" : "batchnorm_fwd_train";
  check_x(op, x);
  check_like_x(op, y, x, "y");
  check_channels(op, x, {&gamma, &beta, &running_mean, &running_var, &save_mean, &save_invstd});
  const Geometry g = geometry_of(x);
  MT_CHECK(g.M > 1, ShapeError, "[cuda ", op, "] x ", x.shape().str(),
           ": training needs more than one value per channel");
  if (g.C == 0) return;
  cuda::Context& ctx = be.context();
  const Launch sums = sums_launch(g);
  const Scratch s = scratch_for(ctx, g, sums);
  const MomentTerms terms{x.data<float>(), x.stride(1)};
  launch_sums(ctx.stream(), g, sums, terms, s.partial);
  const TrainChannels channels{ptr(gamma),    ptr(beta),       mut(running_mean), mut(running_var),
                               mut(save_mean), mut(save_invstd), d.eps,            d.momentum};
  finish_stats_kernel<<<finish_blocks(g.C), kThreads, 0, ctx.stream()>>>(
      s.partial, s.slabs, g.C, g.M, terms, channels, s.coef);
  MT_CUDA_CHECK_LAUNCH();
  Tensor out = cuda::output_in_order_of(be, y, x);
  launch_apply(ctx.stream(), g, NormaliseOp<Relu>{x.data<float>(), out.data<float>(), s.coef, g.C});
  cuda::finish_output(be, out, y);
}

template <bool Relu>
void eval_forward(CudaBackend& be, const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                  const Tensor& beta, const Tensor& running_mean, const Tensor& running_var,
                  Tensor& y) {
  const char* op = Relu ? "batchnorm_relu_fwd_eval" : "batchnorm_fwd_eval";
  check_x(op, x);
  check_like_x(op, y, x, "y");
  MT_CHECK(running_mean.defined() && running_var.defined(), BackendError, "[cuda ", op,
           "] needs the running statistics");
  check_channels(op, x, {&gamma, &beta, &running_mean, &running_var});
  const Geometry g = geometry_of(x);
  if (g.C == 0) return;
  cuda::Context& ctx = be.context();
  auto* coef = static_cast<float*>(ctx.workspace(sizeof(float) * 3 * g.C));
  eval_coef_kernel<<<cuda::blocks_for(g.C), kThreads, 0, ctx.stream()>>>(
      g.C, ptr(gamma), ptr(beta), running_mean.data<float>(), running_var.data<float>(), d.eps,
      coef);
  MT_CUDA_CHECK_LAUNCH();
  Tensor out = cuda::output_in_order_of(be, y, x);
  launch_apply(ctx.stream(), g, NormaliseOp<Relu>{x.data<float>(), out.data<float>(), coef, g.C});
  cuda::finish_output(be, out, y);
}

// y: the fused output relu(bn(x)) (Relu only). dy is only read: masking happens on the fly.
template <bool Relu>
void backward(CudaBackend& be, const Tensor& x, const Tensor& y, const Tensor& dy,
              const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd, Tensor& dx,
              Tensor& dgamma, Tensor& dbeta) {
  const char* op = Relu ? "batchnorm_relu_bwd" : "batchnorm_bwd";
  check_x(op, x);
  check_like_x(op, dy, x, "dy");
  if (Relu) check_like_x(op, y, x, "y");
  if (dx.defined()) check_like_x(op, dx, x, "dx");
  MT_CHECK(save_mean.defined() && save_invstd.defined(), BackendError, "[cuda ", op,
           "] needs the mean and invstd saved by the training forward");
  check_channels(op, x, {&gamma, &save_mean, &save_invstd, &dgamma, &dbeta});
  const Geometry g = geometry_of(x);
  if (g.C == 0 || (!dx.defined() && !dgamma.defined() && !dbeta.defined())) return;
  cuda::Context& ctx = be.context();
  const Tensor grad = cuda::in_order_of(be, dy, x);
  const Tensor out_y = Relu ? cuda::in_order_of(be, y, x) : Tensor{};
  const Launch sums = sums_launch(g);
  const Scratch s = scratch_for(ctx, g, sums);
  launch_sums(ctx.stream(), g, sums,
              GradTerms<Relu>{x.data<float>(), grad.data<float>(), ptr(out_y),
                              save_mean.data<float>()},
              s.partial);
  const GradChannels channels{ptr(gamma), save_mean.data<float>(), save_invstd.data<float>(),
                              mut(dgamma), mut(dbeta)};
  finish_grad_kernel<<<finish_blocks(g.C), kThreads, 0, ctx.stream()>>>(s.partial, s.slabs, g.C,
                                                                       g.M, channels, s.coef);
  MT_CUDA_CHECK_LAUNCH();
  if (!dx.defined()) return;
  Tensor out = cuda::output_in_order_of(be, dx, x);
  launch_apply(ctx.stream(), g,
               GradInputOp<Relu>{x.data<float>(), grad.data<float>(), ptr(out_y),
                                 out.data<float>(), s.coef, g.C});
  cuda::finish_output(be, out, dx);
}

}  // namespace

void CudaBackend::batchnorm_fwd_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                      const Tensor& beta, Tensor& running_mean,
                                      Tensor& running_var, Tensor& y, Tensor& save_mean,
                                      Tensor& save_invstd) {
  train_forward<false>(*this, d, x, gamma, beta, running_mean, running_var, y, save_mean,
                       save_invstd);
}

void CudaBackend::batchnorm_relu_fwd_train(const BatchNormDesc& d, const Tensor& x,
                                           const Tensor& gamma, const Tensor& beta,
                                           Tensor& running_mean, Tensor& running_var, Tensor& y,
                                           Tensor& save_mean, Tensor& save_invstd) {
  train_forward<true>(*this, d, x, gamma, beta, running_mean, running_var, y, save_mean,
                      save_invstd);
}

void CudaBackend::batchnorm_fwd_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                     const Tensor& beta, const Tensor& running_mean,
                                     const Tensor& running_var, Tensor& y) {
  eval_forward<false>(*this, d, x, gamma, beta, running_mean, running_var, y);
}

void CudaBackend::batchnorm_relu_fwd_eval(const BatchNormDesc& d, const Tensor& x,
                                          const Tensor& gamma, const Tensor& beta,
                                          const Tensor& running_mean, const Tensor& running_var,
                                          Tensor& y) {
  eval_forward<true>(*this, d, x, gamma, beta, running_mean, running_var, y);
}

void CudaBackend::batchnorm_bwd(const BatchNormDesc&, const Tensor& x, const Tensor& dy,
                                const Tensor& gamma, const Tensor& save_mean,
                                const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                                Tensor& dbeta) {
  backward<false>(*this, x, Tensor{}, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
}

void CudaBackend::batchnorm_relu_bwd(const BatchNormDesc&, const Tensor& x, const Tensor& y,
                                     Tensor& dy, const Tensor& gamma, const Tensor& /*beta*/,
                                     const Tensor& save_mean,
                                     const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                                     Tensor& dbeta) {
  backward<true>(*this, x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
}

}  // namespace mt
