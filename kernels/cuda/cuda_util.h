#pragma once
// Checks, launch arithmetic and layout staging shared by the op families of the CUDA backend.
#include <cstdint>

#include "core/tensor.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_context.h"

namespace mt::cuda {

// Threads per block for the element-wise kernels: enough to hide latency, small enough that a
// short tensor still spreads over many SMs.
inline constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements: one element per thread up to a cap (the loop
// covers the rest), and at least one block so an empty launch is never configured.
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

// Every tensor a CUDA kernel touches must be an f32 (or, for labels, i64) tensor on the GPU.
inline void check_device_tensor(const Tensor& t, const char* op, const char* what,
                                DType dtype = DType::f32) {
  MT_CHECK(t.defined(), BackendError, "[cuda ", op, "] ", what, " is undefined");
  MT_CHECK(t.device().kind == DeviceKind::cuda, BackendError, "[cuda ", op, "] ", what, " is on ",
           t.device().str(), ", not on the GPU");
  MT_CHECK(t.dtype() == dtype, BackendError, "[cuda ", op, "] ", what, " is ", dtype_name(t.dtype()),
           ", expected ", dtype_name(dtype));
}

inline void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  MT_CHECK(a.shape() == b.shape(), ShapeError, "[cuda ", op, "] shapes ", a.shape().str(), " and ",
           b.shape().str(), " differ");
}

// ---- layouts. Kernels that walk flat memory index every operand at the output's offsets, so an
// operand that lies otherwise (nchw next to nhwc, which the interface allows) goes through a copy.

// Whether a and b (of one shape) put every element at the same offset: their strides agree on
// every dim longer than 1 (an nhwc [N, C, 1, 1] lies like an nchw one).
inline bool same_order(const Tensor& a, const Tensor& b) {
  for (int d = 0; d < a.rank(); ++d)
    if (a.dim(d) > 1 && a.stride(d) != b.stride(d)) return false;
  return true;
}

// t itself when it lies like `like`, else a copy of it in like's layout.
inline Tensor in_order_of(CudaBackend& backend, const Tensor& t, const Tensor& like) {
  if (same_order(t, like)) return t;
  Tensor relaid = Tensor::empty(t.shape(), t.dtype(), like.layout(), backend.device());
  backend.copy(t, relaid);
  return relaid;
}

// Where a kernel walking like's order writes `out`: out itself when it lies like `like`, else
// scratch in like's layout that finish_output then copies into out.
inline Tensor output_in_order_of(CudaBackend& backend, const Tensor& out, const Tensor& like) {
  if (same_order(out, like)) return out;
  return Tensor::empty(out.shape(), out.dtype(), like.layout(), backend.device());
}

// Copies what a kernel wrote into `written` (from output_in_order_of) into out, unless it is out.
inline void finish_output(CudaBackend& backend, const Tensor& written, Tensor& out) {
  if (!written.shares_memory(out)) backend.copy(written, out);
}

// Zeros t on the stream (the result of a reduction or product over no terms).
inline void zero(Context& ctx, const Tensor& t) {
  MT_CUDA_CHECK(cudaMemsetAsync(t.raw(), 0, t.nbytes(), ctx.stream()));
}

}  // namespace mt::cuda
