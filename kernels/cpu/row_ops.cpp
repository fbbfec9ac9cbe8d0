// The row-wise ops of structure learning (core/backend.h, kernels/reference/row_ops.h) in f32:
// OpenMP over rows, each row summed in order in double, so the sums match the reference's.
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"

namespace mt {

void CpuBackend::row_stats(const Tensor& x, Tensor& out) {
  constexpr std::string_view op = "row_stats";
  cpu::check_f32(op, {&x, &out});
  const RowExtent e = row_extent(op, x, out, 3, nullptr);
  const float* px = x.data<float>();
  float* po = out.data<float>();
  cpu::parallel_for(
      e.rows,
      [&](int64_t r) {
        const float* row = px + r * e.cols;
        double sq = 0, sum_abs = 0, sum = 0;
        for (int64_t j = 0; j < e.cols; ++j) {
          const double v = row[j];
          sq += v * v;
          sum_abs += std::abs(v);
          sum += v;
        }
        po[3 * r] = static_cast<float>(sq);
        po[3 * r + 1] = static_cast<float>(sum_abs);
        po[3 * r + 2] = static_cast<float>(sum);
      },
      e.cols);
}

// y may be x: each element is read before it is written, and by that element's update only.
void CpuBackend::row_update(const Tensor& x, const Tensor& coef, Tensor& y) {
  constexpr std::string_view op = "row_update";
  cpu::check_f32(op, {&x, &coef, &y});
  const RowExtent e = row_extent(op, x, coef, 4, &y);
  const float* px = x.data<float>();
  const float* pc = coef.data<float>();
  float* py = y.data<float>();
  cpu::parallel_for(
      e.rows,
      [&](int64_t r) {
        const float* c = pc + 4 * r;
        for (int64_t i = r * e.cols; i < (r + 1) * e.cols; ++i)
          py[i] = static_cast<float>(row_update_value(c[0], c[1], c[2], c[3], px[i], py[i]));
      },
      e.cols);
}

}  // namespace mt
