// CudaBackend::copy: layout changes on the GPU, and every transfer between host and GPU.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/cuda_util.h"

namespace mt {
namespace {

constexpr int kMaxRank = 8;

// The logical dims in the destination's memory order (outermost first), with both tensors'
// strides: consecutive threads then write consecutive addresses.
struct CopyMap {
  int rank = 0;
  int64_t extent[kMaxRank];
  int64_t src_stride[kMaxRank];
};

template <typename Word>
__global__ void strided_copy_kernel(const Word* __restrict__ src, Word* __restrict__ dst, int64_t n,
                                    CopyMap map) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i, offset = 0;
    for (int d = map.rank - 1; d >= 0; --d) {
      const int64_t index = rest % map.extent[d];
      rest /= map.extent[d];
      offset += index * map.src_stride[d];
    }
    dst[i] = src[offset];
  }
}

// dst (contiguous in its own layout) = src, element by element through the strides.
void strided_copy(cudaStream_t stream, const Tensor& src, Tensor& dst) {
  const int rank = src.rank();
  MT_CHECK(rank <= kMaxRank, ShapeError, "[cuda copy] rank ", rank, " above ", kMaxRank);
  std::vector<int> order(rank);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return dst.stride(a) > dst.stride(b); });
  CopyMap map;
  map.rank = rank;
  for (int i = 0; i < rank; ++i) {
    map.extent[i] = src.dim(order[i]);
    map.src_stride[i] = src.stride(order[i]);
  }
  const int64_t n = src.numel();
  const unsigned blocks = cuda::blocks_for(n);
  if (dtype_size(src.dtype()) == 4)
    strided_copy_kernel<<<blocks, cuda::kThreads, 0, stream>>>(
        static_cast<const uint32_t*>(src.raw()), static_cast<uint32_t*>(dst.raw()), n, map);
  else
    strided_copy_kernel<<<blocks, cuda::kThreads, 0, stream>>>(
        static_cast<const uint64_t*>(src.raw()), static_cast<uint64_t*>(dst.raw()), n, map);
  MT_CUDA_CHECK_LAUNCH();
}

bool same_strides(const Tensor& a, const Tensor& b) { return a.strides() == b.strides(); }

void host_to_device(cuda::Context& ctx, const Tensor& src, Tensor& dst) {
  if (!same_strides(src, dst)) {
    // Upload as laid out on the host, then change the layout on the GPU.
    Tensor staged = Tensor::empty(src.shape(), src.dtype(), src.layout(), dst.device());
    host_to_device(ctx, src, staged);
    strided_copy(ctx.stream(), staged, dst);
    return;
  }
  void* pinned = ctx.staging(src.nbytes());
  std::memcpy(pinned, src.raw(), src.nbytes());
  MT_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), pinned, src.nbytes(), cudaMemcpyHostToDevice, ctx.stream()));
  ctx.staging_used();
}

void device_to_host(cuda::Context& ctx, const Tensor& src, Tensor& dst) {
  if (!same_strides(src, dst)) {
    Tensor relaid = Tensor::empty(src.shape(), src.dtype(), dst.layout(), src.device());
    strided_copy(ctx.stream(), src, relaid);
    device_to_host(ctx, relaid, dst);
    return;
  }
  MT_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize();
}

// A transfer between dtypes: the GPU holds one dtype per tensor, so the conversion happens on
// the host side and `transfer` moves same-dtype data across. False (nothing done) when the
// dtypes agree.
template <typename Transfer>
bool copy_converting_on_host(const Tensor& src, Tensor& dst, Transfer transfer) {
  if (src.dtype() == dst.dtype()) return false;
  const bool src_gpu = src.device().kind == DeviceKind::cuda;
  MT_CHECK(src_gpu != (dst.device().kind == DeviceKind::cuda), BackendError, "[cuda copy] ",
           dtype_name(src.dtype()), " into ", dtype_name(dst.dtype()), " on the GPU: convert on the host");
  if (!src_gpu) {
    transfer(src.to(dst.dtype()), dst);
  } else {
    Tensor host = Tensor::empty(src.shape(), src.dtype(), dst.layout());
    transfer(src, host);
    dst.copy_from(host);
  }
  return true;
}

}  // namespace

namespace cuda {

// Tensor::copy_from's way onto and off the GPU (registered by Context). It knows nothing of the
// backends' streams, so it waits for the whole device before and after, and copies on the
// legacy default stream in between.
void synchronous_copy(const Tensor& src, Tensor& dst) {
  MT_CUDA_CHECK(cudaDeviceSynchronize());
  const bool src_gpu = src.device().kind == DeviceKind::cuda;
  const bool dst_gpu = dst.device().kind == DeviceKind::cuda;
  if (copy_converting_on_host(src, dst, synchronous_copy)) return;
  if (src.numel() > 0) {
    if (src_gpu && dst_gpu) {
      if (same_strides(src, dst))
        MT_CUDA_CHECK(cudaMemcpy(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDeviceToDevice));
      else
        strided_copy(nullptr, src, dst);
    } else if (dst_gpu) {
      Tensor staged = same_strides(src, dst) ? dst : Tensor::empty(src.shape(), src.dtype(), src.layout(), dst.device());
      MT_CUDA_CHECK(cudaMemcpy(staged.raw(), src.raw(), src.nbytes(), cudaMemcpyHostToDevice));
      if (!same_strides(src, dst)) strided_copy(nullptr, staged, dst);
    } else {
      Tensor relaid = src;
      if (!same_strides(src, dst)) {
        relaid = Tensor::empty(src.shape(), src.dtype(), dst.layout(), src.device());
        strided_copy(nullptr, src, relaid);
      }
      MT_CUDA_CHECK(cudaMemcpy(dst.raw(), relaid.raw(), src.nbytes(), cudaMemcpyDeviceToHost));
    }
  }
  MT_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace cuda

void CudaBackend::copy(const Tensor& src, Tensor& dst) {
  MT_CHECK(src.shape() == dst.shape(), ShapeError, "[cuda copy] shape ", src.shape().str(), " into ",
           dst.shape().str());
  const bool src_gpu = src.device().kind == DeviceKind::cuda;
  const bool dst_gpu = dst.device().kind == DeviceKind::cuda;
  if (!src_gpu && !dst_gpu) {
    dst.copy_from(src);
    return;
  }
  if (src.numel() == 0) return;
  const auto same_dtype = [this](const Tensor& from, Tensor& to) {
    if (from.device().kind == DeviceKind::cuda) device_to_host(*context_, from, to);
    else host_to_device(*context_, from, to);
  };
  if (copy_converting_on_host(src, dst, same_dtype)) return;
  if (src_gpu && dst_gpu) {
    if (same_strides(src, dst))
      MT_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDeviceToDevice,
                                    context_->stream()));
    else
      strided_copy(context_->stream(), src, dst);
  } else if (dst_gpu) {
    host_to_device(*context_, src, dst);
  } else {
    device_to_host(*context_, src, dst);
  }
}

}  // namespace mt
