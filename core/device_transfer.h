#pragma once
// Moving a model between the host and a backend's device, and reading device tensors on the host.
// Every transfer runs through KernelBackend::copy, which is the one call allowed to cross devices
// (on the CPU backends it is a plain copy, so this code is device-agnostic).
#include "core/backend.h"
#include "core/graph.h"

namespace mt {

// A copy of `t` on the host (row-major), waiting for the backend's queued work. Host tensors come
// back as they are (no copy), so callers use it freely on any backend.
Tensor to_host(const Tensor& t, KernelBackend& backend);
// A copy of a host tensor on the backend's device, in the same layout; the tensor itself when it
// is already there.
Tensor to_device(const Tensor& t, KernelBackend& backend);

// Host copies of every device tensor of a list (checkpoints, exports); host tensors as they are.
NamedTensors on_host(const NamedTensors& tensors);

// Replaces every f32/f64 param and buffer of `graph` with a copy on the backend's device. Integer
// buffers (BatchNorm's num_batches_tracked) stay on the host: they are bookkeeping that ops
// update from the host, and a device copy would cost a sync per step.
void move_state_to(Graph& graph, KernelBackend& backend);
// The reverse: every param and buffer back on the host (checkpoints, export, morph's reshaping).
void move_state_to_host(Graph& graph, KernelBackend& backend);

}  // namespace mt
