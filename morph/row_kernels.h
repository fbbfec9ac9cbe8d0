#pragma once
// The per-channel arithmetic of the morph terms, run where the params live. Each term reads a few
// numbers per output channel of a param (its sums of squares, of absolute values, of values) and
// changes every element by a per-channel rule y = c0 y + c1 x + c2 sign(x) + c3: the two row ops of
// KernelBackend (row_stats, row_update) on the param viewed as [R, n]. A model training on a GPU
// thus sends the host a few numbers per channel instead of its weights and gradients.
//
// Where they run is the caller's to say, never morph's to find: `backend` is the trainer's (passed
// down in RegularizerOptions / ResRepOptions), used for tensors on its device in a dtype it
// computes, so the row ops run in order with the step on its stream. Host tensors it does not take
// (f64 graphs, models that are only analysed, no backend given) run in plain loops here, in
// double, as the reference backend computes them. A device tensor without its backend is an error.
#include <array>
#include <cstdint>
#include <vector>

#include "core/backend.h"

namespace mt::morph {

// The sums over one row of a param viewed as [R, n].
struct RowSums {
  double sq = 0, abs = 0, sum = 0;
};

// Per tensor, per row: its sums (in the tensor's dtype, read back as double). Waits for the
// device once, after every tensor's sums are queued.
std::vector<std::vector<RowSums>> row_sums(KernelBackend* backend, const std::vector<Tensor>& xs);

// Per row: c0, c1, c2, c3 of KernelBackend::row_update.
using RowCoefs = std::vector<std::array<double, 4>>;
// Every row (1, 0, 0, 0): y stays as it is.
RowCoefs identity_rows(int64_t rows);

// y <- c0 y + c1 x + c2 sign(x) + c3, row by row, on y's device. x and y are handles that share
// the memory of a param and of its gradient (or of the param itself: in place).
struct RowUpdate {
  Tensor x;
  RowCoefs coef;
  Tensor y;
};
// Runs every update with a row that is not the identity. The coefficients of updates on one
// device in one dtype (all of a model's) travel in one copy. Host tensors may mix the two float
// dtypes (x is converted to y's).
void update_rows(KernelBackend* backend, const std::vector<RowUpdate>& updates);

}  // namespace mt::morph
