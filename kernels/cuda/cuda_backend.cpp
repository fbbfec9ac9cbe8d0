#include "kernels/cuda/cuda_backend.h"

#include "kernels/cuda/conv_cache.h"
#include "kernels/cuda/cuda_context.h"

namespace mt {

CudaBackend::CudaBackend(CudaOptions options)
    : options_(options),
      context_(std::make_unique<cuda::Context>(options.device)),
      conv_cache_(std::make_unique<cuda::ConvCache>()) {}

CudaBackend::~CudaBackend() = default;

void CudaBackend::synchronize() { context_->synchronize(); }

}  // namespace mt
