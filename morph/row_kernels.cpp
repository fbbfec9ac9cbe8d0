#include "morph/row_kernels.h"

#include <algorithm>

#include "core/device_transfer.h"
#include "kernels/reference/row_ops.h"

namespace mt::morph {

namespace {

bool is_identity(const std::array<double, 4>& c) { return c[0] == 1 && c[1] == 0 && c[2] == 0 && c[3] == 0; }

// Whether all tensors live on one device in one dtype (all of a model's params do), so that their
// sums fit one buffer and come back in one copy.
bool share_one_buffer(const std::vector<Tensor>& xs) {
  for (const Tensor& x : xs)
    if (x.device() != xs.front().device() || x.dtype() != xs.front().dtype()) return false;
  return true;
}

// The row ops on tensors of one device and dtype: the given backend's where it computes them, else
// (host tensors only) the reference kernels' plain loops, called directly: no backend object.
class RowRunner {
 public:
  RowRunner(KernelBackend* backend, Device device, DType dtype)
      : backend_(backend && backend->device() == device && backend->supports(dtype) ? backend : nullptr) {
    MT_CHECK(backend_ || device.kind == DeviceKind::cpu, BackendError, "[morph] parameters on ", device.str(),
             " but no backend for that device was given (RegularizerOptions / ResRepOptions::backend)");
  }
  void stats(const Tensor& x, Tensor& out) const {
    if (backend_) return backend_->row_stats(x, out);
    if (x.dtype() == DType::f64) return reference::row_stats<double>(x, out);
    reference::row_stats<float>(x, out);
  }
  void update(const Tensor& x, const Tensor& coef, Tensor& y) const {
    if (backend_) return backend_->row_update(x, coef, y);
    if (y.dtype() == DType::f64) return reference::row_update<double>(x, coef, y);
    reference::row_update<float>(x, coef, y);
  }
  // Where per-row numbers cross: the backend's device, or the host.
  Tensor to_host(const Tensor& t) const { return backend_ ? mt::to_host(t, *backend_) : t; }
  Tensor to_device(const Tensor& t) const { return backend_ ? mt::to_device(t, *backend_) : t; }

 private:
  KernelBackend* backend_;
};

}  // namespace

std::vector<std::vector<RowSums>> row_sums(KernelBackend* backend, const std::vector<Tensor>& xs) {
  std::vector<std::vector<RowSums>> out(xs.size());
  if (xs.empty()) return out;
  if (!share_one_buffer(xs)) {
    for (size_t k = 0; k < xs.size(); ++k) out[k] = std::move(row_sums(backend, {xs[k]})[0]);
    return out;
  }
  const Device device = xs.front().device();
  const DType dtype = xs.front().dtype();
  const RowRunner runner(backend, device, dtype);
  int64_t total = 0;
  for (const Tensor& x : xs) {
    MT_CHECK(x.defined() && x.rank() >= 1, ShapeError, "[morph] row sums of a tensor of shape ",
             x.shape().str(), ": it needs rank >= 1");
    total += x.dim(0);
  }
  Tensor sums = Tensor::empty({total, 3}, dtype, Layout::nchw, device);  // [sum of R, 3]
  const size_t row_bytes = 3 * dtype_size(dtype);
  int64_t first = 0;
  for (const Tensor& x : xs) {
    if (x.dim(0) > 0) {  // `sums` outlives the view, which therefore needs no keep-alive
      Tensor rows = Tensor::wrap(static_cast<char*>(sums.raw()) + first * row_bytes, {x.dim(0), 3},
                                 dtype, Layout::nchw, nullptr, device);
      runner.stats(x, rows);
    }
    first += x.dim(0);
  }
  const Tensor host = runner.to_host(sums).to(DType::f64);
  const double* p = host.data<double>();
  for (size_t k = 0; k < xs.size(); ++k) {
    out[k].resize(xs[k].dim(0));
    for (RowSums& s : out[k]) s = {p[0], p[1], p[2]}, p += 3;
  }
  return out;
}

RowCoefs identity_rows(int64_t rows) { return RowCoefs(rows, {1.0, 0.0, 0.0, 0.0}); }

void update_rows(KernelBackend* backend, const std::vector<RowUpdate>& updates) {
  std::vector<const RowUpdate*> changing;  // the updates with a row that is not the identity
  for (const RowUpdate& u : updates) {
    MT_CHECK(u.y.rank() >= 1 && static_cast<int64_t>(u.coef.size()) == u.y.dim(0), ShapeError,
             "[morph] ", u.coef.size(), " rows of coefficients for a tensor of shape ", u.y.shape().str());
    if (!std::all_of(u.coef.begin(), u.coef.end(), is_identity)) changing.push_back(&u);
  }
  if (changing.empty()) return;
  const auto same_place = [&](const RowUpdate* u) {
    return u->y.device() == changing.front()->y.device() && u->y.dtype() == changing.front()->y.dtype();
  };
  if (!std::all_of(changing.begin(), changing.end(), same_place)) {
    for (const RowUpdate* u : changing) update_rows(backend, {*u});
    return;
  }
  const Device device = changing.front()->y.device();
  const DType dtype = changing.front()->y.dtype();
  const RowRunner runner(backend, device, dtype);
  int64_t total = 0;
  for (const RowUpdate* u : changing) total += u->y.dim(0);
  Tensor host = Tensor::empty({total, 4}, DType::f64);  // [sum of R, 4]
  double* p = host.data<double>();
  for (const RowUpdate* u : changing)
    for (const auto& c : u->coef) p = std::copy(c.begin(), c.end(), p);
  const Tensor coefs = runner.to_device(host.to(dtype));
  const size_t row_bytes = 4 * dtype_size(dtype);
  int64_t first = 0;
  for (const RowUpdate* u : changing) {
    // `coefs` outlives the view (and on a GPU, stream order keeps the memory until the kernel ran).
    const Tensor rows = Tensor::wrap(static_cast<char*>(coefs.raw()) + first * row_bytes,
                                     {u->y.dim(0), 4}, dtype, Layout::nchw, nullptr, device);
    Tensor y = u->y;  // shares the target's memory
    runner.update(u->x.dtype() == dtype ? u->x : u->x.to(dtype), rows, y);
    first += u->y.dim(0);
  }
}

}  // namespace mt::morph
