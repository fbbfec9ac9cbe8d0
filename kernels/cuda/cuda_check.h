#pragma once
// Every CUDA, cuDNN and cuBLAS status is checked where it is returned; a failure throws a
// BackendError that names the call, the library's own message and the source line.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "core/error.h"

namespace mt::cuda {

inline const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS error";
  }
}

}  // namespace mt::cuda

#define MT_CUDA_CHECK(call)                                                                    \
  do {                                                                                         \
    const cudaError_t mt_status_ = (call);                                                     \
    if (mt_status_ != cudaSuccess)                                                             \
      MT_FAIL(BackendError, "[cuda] ", #call, ": ", cudaGetErrorString(mt_status_));           \
  } while (0)

#define MT_CUDNN_CHECK(call)                                                                   \
  do {                                                                                         \
    const cudnnStatus_t mt_status_ = (call);                                                   \
    if (mt_status_ != CUDNN_STATUS_SUCCESS)                                                    \
      MT_FAIL(BackendError, "[cudnn] ", #call, ": ", cudnnGetErrorString(mt_status_));         \
  } while (0)

#define MT_CUBLAS_CHECK(call)                                                                  \
  do {                                                                                         \
    const cublasStatus_t mt_status_ = (call);                                                  \
    if (mt_status_ != CUBLAS_STATUS_SUCCESS)                                                   \
      MT_FAIL(BackendError, "[cublas] ", #call, ": ", ::mt::cuda::cublas_status_name(mt_status_)); \
  } while (0)

// After a kernel launch: a bad launch configuration shows up here, not at the next sync.
#define MT_CUDA_CHECK_LAUNCH() MT_CUDA_CHECK(cudaGetLastError())
