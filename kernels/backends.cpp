#include "kernels/backends.h"

#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#ifdef MORPHTRAIN_HAVE_CUDA
#include <map>
#include <mutex>

#include "kernels/cuda/cuda_backend.h"
#endif

namespace mt {

std::unique_ptr<KernelBackend> make_backend(std::string_view name) {
  if (name == "reference") return std::make_unique<ReferenceBackend>();
  if (name == "cpu") return std::make_unique<CpuBackend>();
#ifdef MORPHTRAIN_HAVE_CUDA
  if (name == "cuda") return std::make_unique<CudaBackend>();
#else
  if (name == "cuda")
    MT_FAIL(BackendError, "[backend] CUDA backend not built; reconfigure with -DMORPHTRAIN_CUDA=ON");
#endif
  MT_FAIL(BackendError, "[backend] unknown backend '", name, "' (known: reference, cpu, cuda)");
}

KernelBackend& backend_for(Device device) {
  if (device.kind == DeviceKind::cpu) {
    static CpuBackend cpu;
    return cpu;
  }
#ifdef MORPHTRAIN_HAVE_CUDA
  // One backend per GPU for the process's lifetime: it owns the stream, the cuDNN and cuBLAS
  // handles and the algorithm cache, which every model on that GPU shares.
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<CudaBackend>> gpus;
  std::lock_guard<std::mutex> lock(mutex);
  auto& gpu = gpus[device.index];
  if (!gpu) gpu = std::make_unique<CudaBackend>(CudaOptions{.device = device.index});
  return *gpu;
#else
  MT_FAIL(BackendError, "[backend] no backend for device ", device.str(),
          ": CUDA backend not built; reconfigure with -DMORPHTRAIN_CUDA=ON");
#endif
}

}  // namespace mt
