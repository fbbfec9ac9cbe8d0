#include "core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace mt {

Storage::Storage(Device device, size_t bytes)
    : device_(device), requested_(bytes), block_(allocator_for(device).allocate(bytes)) {}

Storage::~Storage() { allocator_for(device_).deallocate(block_); }

std::vector<int64_t> strides_for(const Shape& shape, Layout layout) {
  const int r = shape.rank();
  std::vector<int64_t> s(r);
  if (layout == Layout::nhwc) {
    MT_CHECK(r == 4, ShapeError, "nhwc layout needs a rank-4 shape, got ", shape.str());
    s[1] = 1;
    s[3] = shape[1];
    s[2] = shape[1] * shape[3];
    s[0] = shape[1] * shape[3] * shape[2];
    return s;
  }
  int64_t acc = 1;
  for (int i = r - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Layout layout, Device device) {
  for (int64_t d : shape.dims()) MT_CHECK(d >= 0, ShapeError, "negative dimension in ", shape.str());
  Tensor t;
  t.storage_ = std::make_shared<Storage>(device, static_cast<size_t>(shape.numel()) * dtype_size(dtype));
  t.data_ = t.storage_->data();
  t.shape_ = shape;
  t.strides_ = strides_for(shape, layout);
  t.dtype_ = dtype;
  t.layout_ = layout;
  t.device_ = device;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Layout layout, Device device) {
  Tensor t = empty(shape, dtype, layout, device);
  MT_CHECK(device.kind == DeviceKind::cpu, BackendError, "Tensor::zeros on ", device.str(),
           ": fill it through the device backend");
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::wrap(void* data, const Shape& shape, DType dtype, Layout layout,
                    std::shared_ptr<void> keep_alive, Device device) {
  Tensor t;
  t.keep_alive_ = std::move(keep_alive);
  t.data_ = data;
  t.shape_ = shape;
  t.strides_ = strides_for(shape, layout);
  t.dtype_ = dtype;
  t.layout_ = layout;
  t.device_ = device;
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  MT_CHECK(shape.numel() == numel(), ShapeError, "reshape ", shape_.str(), " -> ", shape.str(),
           " changes the element count");
  MT_CHECK(layout_ == Layout::nchw || (shape == shape_), ShapeError,
           "reshape of an nhwc tensor ", shape_.str(), ": convert it to nchw first");
  Tensor t = *this;
  t.shape_ = shape;
  t.strides_ = strides_for(shape, Layout::nchw);
  return t;
}

namespace {
// Visits every logical index of `shape` in row-major order, passing the element offsets in a
// and b (computed from their strides).
template <typename F>
void for_each_pair(const Shape& shape, const std::vector<int64_t>& sa, const std::vector<int64_t>& sb,
                   F&& f) {
  const int r = shape.rank();
  const int64_t n = shape.numel();
  if (n == 0) return;
  std::vector<int64_t> idx(r, 0);
  int64_t oa = 0, ob = 0;
  for (int64_t i = 0; i < n; ++i) {
    f(oa, ob);
    for (int d = r - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) {
        oa += sa[d];
        ob += sb[d];
        break;
      }
      oa -= sa[d] * (shape[d] - 1);
      ob -= sb[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}

double load(const Tensor& t, int64_t off) {
  switch (t.dtype()) {
    case DType::f32: return static_cast<const float*>(t.raw())[off];
    case DType::f64: return static_cast<const double*>(t.raw())[off];
    case DType::i64: return static_cast<double>(static_cast<const int64_t*>(t.raw())[off]);
  }
  return 0;
}

void store(const Tensor& t, int64_t off, double v) {
  switch (t.dtype()) {
    case DType::f32: static_cast<float*>(t.raw())[off] = static_cast<float>(v); break;
    case DType::f64: static_cast<double*>(t.raw())[off] = v; break;
    case DType::i64: static_cast<int64_t*>(t.raw())[off] = static_cast<int64_t>(v); break;
  }
}
}  // namespace

namespace {
CrossDeviceCopy g_cross_device_copy[2] = {nullptr, nullptr};  // by DeviceKind
}  // namespace

void register_cross_device_copy(DeviceKind kind, CrossDeviceCopy copy) {
  g_cross_device_copy[static_cast<int>(kind)] = copy;
}

void Tensor::copy_from(const Tensor& src) {
  MT_CHECK(src.shape() == shape_, ShapeError, "copy_from: shape ", src.shape().str(), " into ",
           shape_.str());
  if (device_.kind != DeviceKind::cpu || src.device().kind != DeviceKind::cpu) {
    const DeviceKind kind = device_.kind != DeviceKind::cpu ? device_.kind : src.device().kind;
    const CrossDeviceCopy copy = g_cross_device_copy[static_cast<int>(kind)];
    MT_CHECK(copy, BackendError, "copy_from between ", src.device().str(), " and ", device_.str(),
             ": no backend for that device is loaded");
    copy(src, *this);
    return;
  }
  if (src.dtype() == dtype_ && src.strides() == strides_) {
    std::memcpy(data_, src.raw(), nbytes());
    return;
  }
  if (src.dtype() == DType::i64 || dtype_ == DType::i64) {
    MT_CHECK(src.dtype() == dtype_, BackendError, "copy_from: cannot convert ",
             dtype_name(src.dtype()), " to ", dtype_name(dtype_));
    const auto* s = static_cast<const int64_t*>(src.raw());
    auto* d = static_cast<int64_t*>(data_);
    for_each_pair(shape_, strides_, src.strides(), [&](int64_t od, int64_t os) { d[od] = s[os]; });
    return;
  }
  for_each_pair(shape_, strides_, src.strides(),
                [&](int64_t od, int64_t os) { store(*this, od, load(src, os)); });
}

Tensor Tensor::to(Layout layout) const {
  Tensor t = empty(shape_, dtype_, layout, device_);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  Tensor t = empty(shape_, dtype, layout_, device_);
  t.copy_from(*this);
  return t;
}

void Tensor::fill(double value) {
  MT_CHECK(device_.kind == DeviceKind::cpu, BackendError, "fill on ", device_.str());
  const int64_t n = numel();
  switch (dtype_) {
    case DType::f32: std::fill_n(static_cast<float*>(data_), n, static_cast<float>(value)); break;
    case DType::f64: std::fill_n(static_cast<double*>(data_), n, value); break;
    case DType::i64: std::fill_n(static_cast<int64_t*>(data_), n, static_cast<int64_t>(value)); break;
  }
}

double Tensor::at(std::initializer_list<int64_t> index) const {
  MT_CHECK(static_cast<int>(index.size()) == rank(), ShapeError, "at(): ", index.size(),
           " indices for shape ", shape_.str());
  int64_t off = 0;
  int d = 0;
  for (int64_t i : index) {
    MT_CHECK(i >= 0 && i < shape_[d], ShapeError, "at(): index ", i, " out of range in dim ", d,
             " of ", shape_.str());
    off += i * strides_[d++];
  }
  return load(*this, off);
}

double max_rel_diff(const Tensor& a, const Tensor& b) {
  MT_CHECK(a.shape() == b.shape(), ShapeError, "max_rel_diff: shapes ", a.shape().str(), " and ",
           b.shape().str());
  double worst = 0, scale = 0;
  bool nan_mismatch = false;
  for_each_pair(a.shape(), a.strides(), b.strides(), [&](int64_t oa, int64_t ob) {
    const double x = load(a, oa), y = load(b, ob);
    nan_mismatch |= std::isnan(x) != std::isnan(y);
    if (!std::isnan(x) && !std::isnan(y)) worst = std::max(worst, std::abs(x - y));
    scale = std::max(scale, std::abs(y));
  });
  if (nan_mismatch) return INFINITY;
  return worst == 0 ? 0 : worst / std::max(scale, 1e-30);
}

}  // namespace mt
