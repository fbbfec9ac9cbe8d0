#pragma once
// Inverted dropout with the counter-based mask every backend shares: the element at row-major
// logical position i is kept iff dropout_uniform(seed, i) >= p, and kept elements scale by
// 1 / (1 - p). The workspace holds that mask as values (0 or 1 / (1 - p)) in x's dtype and layout,
// so the backward is one multiply.
#include "core/backend.h"
#include "kernels/reference/eltwise.h"

namespace mt::reference {

template <typename T>
void dropout_fwd(double p, uint64_t seed, const Tensor& x, Tensor& y, Tensor& workspace) {
  expect_dtype<T>("dropout_fwd", {&x, &y});
  expect_same_shape("dropout_fwd", x, y);
  MT_CHECK(p >= 0 && p < 1, BackendError, "[dropout_fwd] p = ", p, " must be in [0, 1)");
  if (!workspace.defined() || workspace.shape() != x.shape() || workspace.dtype() != x.dtype())
    workspace = Tensor::empty(x.shape(), x.dtype(), x.layout());
  const T keep = static_cast<T>(1 / (1 - p));
  const T* px = x.data<T>();
  T* py = y.data<T>();
  T* mask = workspace.data<T>();
  for_each_offset<3>(
      x.shape(), {x.strides(), y.strides(), workspace.strides()}, [&](int64_t i, const auto& o) {
        const T m = dropout_uniform(seed, static_cast<uint64_t>(i)) >= p ? keep : T(0);
        mask[o[2]] = m;
        py[o[1]] = px[o[0]] * m;
      });
}

template <typename T>
void dropout_bwd(double, const Tensor& workspace, const Tensor& dy, Tensor& dx) {
  MT_CHECK(workspace.defined(), BackendError, "[dropout_bwd] no mask: run dropout_fwd first");
  map_binary<T>("dropout_bwd", dy, workspace, dx, [](T g, T m) { return static_cast<T>(g * m); });
}

}  // namespace mt::reference
