// The backend every GPU test runs: one CudaBackend for the process (its stream, cuDNN and cuBLAS
// handles and algorithm cache are shared, as backend_for() shares them in training), with TF32
// off so that convolutions and matrix products round like the f32 reference.
#include "kernels/cuda/cuda_backend.h"
#include "tests/cuda/gpu_compare.h"

namespace mt::gputest {

KernelBackend& gpu() {
  static CudaBackend backend(CudaOptions{.allow_tf32 = false});
  return backend;
}

}  // namespace mt::gputest
