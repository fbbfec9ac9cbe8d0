#pragma once
// The row-wise ops of structure learning (core/backend.h: row_stats, row_update) over a row-major
// x viewed as [R, n]. Plain loops in row order, sums in double: the CPU and GPU kernels are
// checked against these.
#include <cmath>
#include <string_view>

#include "core/backend.h"
#include "kernels/reference/strided.h"

namespace mt::reference {

template <typename T>
void row_stats(const Tensor& x, Tensor& out) {
  constexpr std::string_view op = "row_stats";
  expect_dtype<T>(op, {&x, &out});
  const RowExtent e = row_extent(op, x, out, 3, nullptr);
  const T* px = x.data<T>();
  T* po = out.data<T>();
  for (int64_t r = 0; r < e.rows; ++r) {
    Acc sq = 0, sum_abs = 0, sum = 0;
    for (int64_t j = 0; j < e.cols; ++j) {
      const Acc v = px[r * e.cols + j];
      sq += v * v;
      sum_abs += std::abs(v);
      sum += v;
    }
    po[3 * r] = static_cast<T>(sq);
    po[3 * r + 1] = static_cast<T>(sum_abs);
    po[3 * r + 2] = static_cast<T>(sum);
  }
}

// y may be x: each element is read before it is written, and by that element's update only.
template <typename T>
void row_update(const Tensor& x, const Tensor& coef, Tensor& y) {
  constexpr std::string_view op = "row_update";
  expect_dtype<T>(op, {&x, &coef, &y});
  const RowExtent e = row_extent(op, x, coef, 4, &y);
  const T* px = x.data<T>();
  const T* pc = coef.data<T>();
  T* py = y.data<T>();
  for (int64_t r = 0; r < e.rows; ++r) {
    const T* c = pc + 4 * r;
    for (int64_t j = 0; j < e.cols; ++j) {
      const int64_t i = r * e.cols + j;
      py[i] = static_cast<T>(row_update_value(c[0], c[1], c[2], c[3], px[i], py[i]));
    }
  }
}

}  // namespace mt::reference
