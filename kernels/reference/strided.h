#pragma once
// What every reference kernel shares: reading tensors through their strides (so one kernel serves
// nchw and nhwc alike), a logical-order walk over any rank, and the argument checks that name the
// op. Sums accumulate in double for both f32 and f64: the oracle should be the most accurate
// result a type can hold, not the most faithful copy of one library's rounding.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/tensor.h"

namespace mt::reference {

using Acc = double;

// A 4-D tensor read by logical (n, c, h, w), whatever its physical order.
template <typename T>
struct View4 {
  T* data;
  int64_t sn, sc, sh, sw;

  T& operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    return data[n * sn + c * sc + h * sh + w * sw];
  }
};

template <typename T>
View4<T> view4(const Tensor& t) {
  return {t.data<std::remove_const_t<T>>(), t.stride(0), t.stride(1), t.stride(2), t.stride(3)};
}

// A 2-D tensor read by (row, column); [N, K] activations and linear weights.
template <typename T>
struct View2 {
  T* data;
  int64_t s0, s1;

  T& operator()(int64_t i, int64_t j) const { return data[i * s0 + j * s1]; }
};

template <typename T>
View2<T> view2(const Tensor& t) {
  return {t.data<std::remove_const_t<T>>(), t.stride(0), t.stride(1)};
}

// Calls f(i, offsets) for every element of `shape` in row-major logical order, where i is the
// logical position and offsets[k] the element's offset under strides[k]. Broadcasting is a
// stride of 0.
template <size_t K, typename F>
void for_each_offset(const Shape& shape, const std::array<std::vector<int64_t>, K>& strides,
                     F&& f) {
  const int r = shape.rank();
  const int64_t n = shape.numel();
  std::vector<int64_t> idx(r, 0);
  std::array<int64_t, K> off{};
  for (int64_t i = 0; i < n; ++i) {
    f(i, off);
    for (int d = r - 1; d >= 0; --d) {  // odometer step: bump the last dim, carry leftwards
      if (++idx[d] < shape[d]) {
        for (size_t k = 0; k < K; ++k) off[k] += strides[k][d];
        break;
      }
      for (size_t k = 0; k < K; ++k) off[k] -= strides[k][d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}

// Every defined tensor must live on the CPU and hold T.
template <typename T>
void expect_dtype(std::string_view op, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors) {
    if (!t || !t->defined()) continue;
    MT_CHECK(t->device().kind == DeviceKind::cpu, BackendError, "[", op,
             "] reference backend needs cpu tensors, got ", t->device().str());
    MT_CHECK(t->dtype() == dtype_of<T>(), BackendError, "[", op,
             "] mixed dtypes: ", dtype_name(t->dtype()), " tensor where ",
             dtype_name(dtype_of<T>()), " expected");
  }
}

inline void expect_shape(std::string_view op, std::string_view what, const Tensor& t,
                         const Shape& expected) {
  MT_CHECK(t.shape() == expected, ShapeError, "[", op, "] ", what, " has shape ", t.shape().str(),
           ", expected ", expected.str());
}

inline void expect_rank(std::string_view op, std::string_view what, const Tensor& t, int rank) {
  MT_CHECK(t.rank() == rank, ShapeError, "[", op, "] ", what, " ", t.shape().str(),
           " must be rank ", rank);
}

}  // namespace mt::reference
