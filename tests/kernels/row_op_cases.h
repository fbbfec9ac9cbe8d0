#pragma once
// The cases on which every backend's row ops (core/backend.h: row_stats, row_update) are checked
// against the reference: tests/kernels/test_row_ops.cpp for the CPU, tests/cuda/test_cuda_row_ops.cpp
// for the GPU. Odd shapes (one row, one column, a conv filter bank, empty rows and an empty
// tensor, one large enough for threads), zero rows (sign(0) and an all-zero row's sums), and
// coefficient rows of every kind: c0 = 0 over a y that holds NaN there (overwritten), the
// identity, and all four terms at once.
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "tests/kernels/gradcheck.h"

namespace mt::test {

struct RowOpShape {
  std::string name;
  Shape shape;
};

inline std::vector<RowOpShape> row_op_shapes() {
  return {{"one row [1, 9]", {1, 9}},
          {"one element per row [11]", {11}},
          {"odd [7, 13]", {7, 13}},
          {"conv weight [5, 3, 3, 3]", {5, 3, 3, 3}},
          {"empty rows [3, 0]", {3, 0}},
          {"no rows [0, 4]", {0, 4}},
          {"large [300, 257] (threads)", {300, 257}}};
}

// What a coefficient row of the case does: 0 overwrites (c0 = 0), 1 leaves y (identity), else
// all four terms.
inline int row_kind(int64_t r) { return static_cast<int>(r % 3); }

// f64 host inputs: x (every fourth row zero, and a zero inside every other row), coef [R, 4],
// y of x's shape (NaN in the rows that c0 = 0 overwrites).
inline std::vector<Tensor> row_op_inputs(const Shape& shape, Rng& rng) {
  Tensor x = uniform(shape, rng);
  const int64_t rows = shape[0], cols = rows > 0 ? shape.numel() / rows : 0;
  double* px = x.data<double>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      if (r % 4 == 3 || (r % 2 == 0 && j == cols / 2)) px[r * cols + j] = 0;
  Tensor coef = uniform({rows, 4}, rng, Layout::nchw, -2, 2);
  double* pc = coef.data<double>();
  for (int64_t r = 0; r < rows; ++r) {
    if (row_kind(r) == 0) pc[4 * r] = 0;
    if (row_kind(r) == 1) pc[4 * r] = 1, pc[4 * r + 1] = pc[4 * r + 2] = pc[4 * r + 3] = 0;
  }
  Tensor y = uniform(shape, rng);
  double* py = y.data<double>();
  for (int64_t r = 0; r < rows; ++r)
    if (row_kind(r) == 0)
      for (int64_t j = 0; j < cols; ++j) py[r * cols + j] = std::numeric_limits<double>::quiet_NaN();
  return {x, coef, y};
}

// A copy of t on its device, through the backend (a GPU tensor cannot be copied from the host).
inline Tensor backend_copy(KernelBackend& be, const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype(), t.layout(), t.device());
  be.copy(t, out);
  return out;
}

// Runs both ops on inputs already in the backend's dtype and on its device: the stats of x, the
// update of a copy of y, and the update of a copy of x in place (y = x).
inline std::vector<std::pair<std::string, Tensor>> run_row_ops(KernelBackend& be,
                                                               const std::vector<Tensor>& in) {
  const Tensor &x = in[0], &coef = in[1], &y = in[2];
  Tensor stats = Tensor::empty({x.dim(0), 3}, x.dtype(), Layout::nchw, x.device());  // [R, 3]
  be.fill(stats, std::numeric_limits<double>::quiet_NaN());  // an unwritten row fails
  be.row_stats(x, stats);
  Tensor updated = backend_copy(be, y);
  be.row_update(x, coef, updated);
  Tensor in_place = backend_copy(be, x);
  be.row_update(in_place, coef, in_place);
  return {{"row_stats", stats}, {"row_update", updated}, {"row_update in place", in_place}};
}

}  // namespace mt::test
