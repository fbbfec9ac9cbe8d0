#pragma once
// A tensor: a logical shape (activations are NCHW logically), a dtype, a device, and strides that
// say how the elements lie in memory. Kernels read the physical order from the strides, so one
// reference kernel serves NCHW and NHWC tensors alike, and the CPU backend keeps activations NHWC.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/allocator.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/shape.h"

namespace mt {

// nchw means row-major over the logical dims (any rank); nhwc is channels-last and needs rank 4.
enum class Layout : uint8_t { nchw, nhwc };

// Memory owned by one allocation; tensors share it.
class Storage {
 public:
  Storage(Device device, size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return block_.ptr; }
  size_t bytes() const { return requested_; }
  Device device() const { return device_; }

 private:
  Device device_;
  size_t requested_;
  Block block_;
};

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Layout layout = Layout::nchw,
                      Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Layout layout = Layout::nchw,
                      Device device = Device::cpu());
  // A view of memory someone else owns (no copy); `keep_alive` may hold that owner. `device`:
  // where `data` lives (a device view of part of a larger buffer).
  static Tensor wrap(void* data, const Shape& shape, DType dtype, Layout layout = Layout::nchw,
                     std::shared_ptr<void> keep_alive = nullptr, Device device = Device::cpu());

  bool defined() const { return data_ != nullptr || (storage_ && shape_.numel() == 0); }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  int64_t dim(int i) const { return shape_[i]; }
  int64_t numel() const { return shape_.numel(); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  Layout layout() const { return layout_; }
  const std::vector<int64_t>& strides() const { return strides_; }
  int64_t stride(int i) const { return strides_[i < 0 ? i + rank() : i]; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  void* raw() const { return data_; }
  template <typename T> T* data() const {
    MT_CHECK(dtype_of<T>() == dtype_, BackendError, "tensor of dtype ", dtype_name(dtype_),
             " read as ", dtype_name(dtype_of<T>()));
    return static_cast<T*>(data_);
  }

  // Same memory, another logical shape with the same number of elements (row-major only).
  Tensor reshape(const Shape& shape) const;
  // A deep copy in the requested layout and dtype, on the same device.
  Tensor to(Layout layout) const;
  Tensor to(DType dtype) const;
  Tensor clone() const { return to(layout_); }
  // Copies values from `src` of the same logical shape: any layout, f32/f64 mixed. A device on
  // either side goes through its registered CrossDeviceCopy (and waits for it).
  void copy_from(const Tensor& src);
  void fill(double value);

  // Reads one element by logical index as double (tests and debugging; slow).
  double at(std::initializer_list<int64_t> index) const;
  // Same storage?
  bool shares_memory(const Tensor& other) const { return data_ == other.data_; }

 private:
  std::shared_ptr<Storage> storage_;
  std::shared_ptr<void> keep_alive_;
  void* data_ = nullptr;
  Shape shape_;
  std::vector<int64_t> strides_;
  DType dtype_ = DType::f32;
  Layout layout_ = Layout::nchw;
  Device device_;
};

// Tensors by name, in order: a state_dict, a checkpoint, an optimizer's state.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

std::vector<int64_t> strides_for(const Shape& shape, Layout layout);

// How Tensor::copy_from reaches a device's memory: the device's backend registers a copy that
// crosses between host and device (or within the device) and has finished when it returns. It is
// for the rare paths that hold no backend (loading a checkpoint or a state dict); the training
// loop copies through KernelBackend::copy, which stays in the backend's stream order.
using CrossDeviceCopy = void (*)(const Tensor& src, Tensor& dst);
void register_cross_device_copy(DeviceKind kind, CrossDeviceCopy copy);
// max|a - b| / max|b| over all elements (the reference is b): the test suite's comparison. A
// per-element ratio would blow up on values near zero that carry no information.
double max_rel_diff(const Tensor& a, const Tensor& b);

}  // namespace mt
