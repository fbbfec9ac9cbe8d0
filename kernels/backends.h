#pragma once
// Where callers get a backend: by name ("reference", "cpu", later "cuda") or by device.
#include <memory>
#include <string_view>

#include "core/backend.h"

namespace mt {

std::unique_ptr<KernelBackend> make_backend(std::string_view name);
// The process-wide backend of a device (cpu: the oneDNN backend).
KernelBackend& backend_for(Device device);

}  // namespace mt
