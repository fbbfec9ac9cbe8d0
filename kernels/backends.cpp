#include "kernels/backends.h"

#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"

namespace mt {

std::unique_ptr<KernelBackend> make_backend(std::string_view name) {
  if (name == "reference") return std::make_unique<ReferenceBackend>();
  if (name == "cpu") return std::make_unique<CpuBackend>();
  if (name == "cuda")
    MT_FAIL(BackendError, "[backend] CUDA backend not built; reconfigure with -DMORPHTRAIN_CUDA=ON");
  MT_FAIL(BackendError, "[backend] unknown backend '", name, "' (known: reference, cpu, cuda)");
}

KernelBackend& backend_for(Device device) {
  if (device.kind == DeviceKind::cpu) {
    static CpuBackend cpu;
    return cpu;
  }
  MT_FAIL(BackendError, "[backend] no backend for device ", device.str(),
          ": CUDA backend not built; reconfigure with -DMORPHTRAIN_CUDA=ON");
}

}  // namespace mt
