#pragma once
// What one GPU's work needs besides memory: the stream every kernel of the backend runs on (so
// the caching allocator may hand a freed block to the next op without a sync: stream order makes
// it safe), the cuDNN and cuBLAS handles bound to that stream, a growable workspace, and a pinned
// host buffer through which host-to-device copies run asynchronously.
#include <cstddef>
#include <string>

#include "core/tensor.h"
#include "kernels/cuda/cuda_check.h"

namespace mt::cuda {

// GPUs visible to this process; 0 (never an exception) where there is no driver or no device.
int device_count();
// Why there is no GPU, in words (the runtime's message), for error text.
std::string no_device_reason();
// Throws a BackendError that says what is visible and what to do when `index` is not.
void require_device(int index);

// A copy onto, off or within the GPU that waits for the whole device before and after: the
// CrossDeviceCopy behind Tensor::copy_from (checkpoint and state-dict loading).
void synchronous_copy(const Tensor& src, Tensor& dst);

class Context {
 public:
  explicit Context(int device_index);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device_index() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cudnnHandle_t cudnn() const { return cudnn_; }
  cublasHandle_t cublas() const { return cublas_; }

  // Device scratch of at least `bytes`, valid until the next call (kernels on the one stream use
  // it in order). Grows, never shrinks; comes from the caching allocator.
  void* workspace(size_t bytes);
  // Pinned host memory of at least `bytes` for staging a host-to-device copy. Waits until the
  // previous copy out of it has finished, so the caller may overwrite it.
  void* staging(size_t bytes);
  // Marks the end of a copy out of the staging buffer (on the stream).
  void staging_used();
  void synchronize() const;

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  Tensor workspace_;
  void* staging_ = nullptr;
  size_t staging_bytes_ = 0;
  cudaEvent_t staging_free_ = nullptr;
};

}  // namespace mt::cuda
