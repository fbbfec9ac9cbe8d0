#include "kernels/cuda/cuda_context.h"

#include <algorithm>
#include <mutex>

#include "core/allocator.h"

namespace mt::cuda {
namespace {

void* device_raw_alloc(size_t bytes) {
  void* p = nullptr;
  const cudaError_t status = cudaMalloc(&p, bytes);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so later calls do not report it again
    MT_FAIL(BackendError, "[cuda] out of GPU memory allocating ", bytes, " bytes (",
            cudaGetErrorString(status), "); a smaller batch size needs less");
  }
  return p;
}
void device_raw_free(void* p) { cudaFree(p); }

// One cache for the process: a process drives one GPU (data parallel runs one process per GPU).
// Tensor::copy_from learns here how to reach GPU memory.
void register_device_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    static CachingAllocator allocator(device_raw_alloc, device_raw_free);
    register_allocator(DeviceKind::cuda, &allocator);
    register_cross_device_copy(DeviceKind::cuda, &synchronous_copy);
  });
}

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

std::string no_device_reason() {
  int n = 0;
  const cudaError_t status = cudaGetDeviceCount(&n);
  cudaGetLastError();
  if (status != cudaSuccess) return cudaGetErrorString(status);
  return n == 0 ? "no CUDA device" : std::to_string(n) + " CUDA device(s)";
}

void require_device(int index) {
  const int n = device_count();
  MT_CHECK(n > 0, BackendError, "[cuda] device cuda:", index, " requested but no CUDA GPU is visible (",
           no_device_reason(), "); train with device: cpu, or run where nvidia-smi lists a GPU");
  MT_CHECK(index >= 0 && index < n, BackendError, "[cuda] device cuda:", index,
           " requested but only ", n, " GPU(s) are visible (cuda:0..cuda:", n - 1, ")");
}

Context::Context(int device_index) : device_(device_index) {
  require_device(device_index);
  MT_CUDA_CHECK(cudaSetDevice(device_index));
  register_device_memory();
  MT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  MT_CUDNN_CHECK(cudnnCreate(&cudnn_));
  MT_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
  MT_CUBLAS_CHECK(cublasCreate(&cublas_));
  MT_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  MT_CUDA_CHECK(cudaEventCreateWithFlags(&staging_free_, cudaEventDisableTiming));
}

Context::~Context() {
  // Destructors must not throw: errors here are ignored (the process is ending or the device is
  // already unusable).
  if (stream_) cudaStreamSynchronize(stream_);
  if (staging_) cudaFreeHost(staging_);
  if (staging_free_) cudaEventDestroy(staging_free_);
  if (cublas_) cublasDestroy(cublas_);
  if (cudnn_) cudnnDestroy(cudnn_);
  workspace_ = Tensor{};
  if (stream_) cudaStreamDestroy(stream_);
}

void* Context::workspace(size_t bytes) {
  if (bytes == 0) return nullptr;
  if (!workspace_.defined() || workspace_.nbytes() < bytes) {
    // Freed blocks return to the cache in stream order, so replacing it here is safe.
    const int64_t floats = static_cast<int64_t>((bytes + 3) / 4);
    workspace_ = Tensor::empty({floats}, DType::f32, Layout::nchw, Device::cuda(device_));
  }
  return workspace_.raw();
}

void* Context::staging(size_t bytes) {
  MT_CUDA_CHECK(cudaEventSynchronize(staging_free_));
  if (staging_bytes_ < bytes) {
    if (staging_) MT_CUDA_CHECK(cudaFreeHost(staging_));
    staging_ = nullptr;
    staging_bytes_ = std::max(bytes, staging_bytes_ * 2);
    MT_CUDA_CHECK(cudaMallocHost(&staging_, staging_bytes_));
  }
  return staging_;
}

void Context::staging_used() { MT_CUDA_CHECK(cudaEventRecord(staging_free_, stream_)); }

void Context::synchronize() const { MT_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

}  // namespace mt::cuda
