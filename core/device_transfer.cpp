#include "core/device_transfer.h"

namespace mt {

Tensor to_host(const Tensor& t, KernelBackend& backend) {
  if (!t.defined() || t.device().kind == DeviceKind::cpu) return t;
  Tensor host = Tensor::empty(t.shape(), t.dtype(), t.layout());
  backend.copy(t, host);
  return host;
}

Tensor to_device(const Tensor& t, KernelBackend& backend) {
  if (!t.defined() || t.device() == backend.device()) return t;
  MT_CHECK(t.device().kind == DeviceKind::cpu, BackendError, "[to_device] tensor on ", t.device().str(),
           " cannot move to ", backend.device().str(), " directly; go through the host");
  Tensor moved = Tensor::empty(t.shape(), t.dtype(), t.layout(), backend.device());
  backend.copy(t, moved);
  return moved;
}

NamedTensors on_host(const NamedTensors& tensors) {
  NamedTensors out;
  out.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    if (!t.defined() || t.device().kind == DeviceKind::cpu) {
      out.emplace_back(name, t);
      continue;
    }
    Tensor host = Tensor::empty(t.shape(), t.dtype(), t.layout());
    host.copy_from(t);
    out.emplace_back(name, std::move(host));
  }
  return out;
}

namespace {

void move_state(Graph& graph, KernelBackend& backend, bool to_backend) {
  auto move = [&](ValueId v) {
    Tensor& data = graph.value(v).data;
    if (!data.defined() || data.dtype() == DType::i64) return;
    data = to_backend ? to_device(data, backend) : to_host(data, backend);
  };
  for (ValueId p : graph.params()) move(p);
  for (ValueId b : graph.buffers()) move(b);
}

}  // namespace

void move_state_to(Graph& graph, KernelBackend& backend) { move_state(graph, backend, true); }
void move_state_to_host(Graph& graph, KernelBackend& backend) { move_state(graph, backend, false); }

}  // namespace mt
