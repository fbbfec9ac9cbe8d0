#pragma once
// The FiGS gate: y = x * g[c] with one gate per channel (gate_value() in core/backend.h decides g
// and dg/dlogit). The workspace keeps both per channel, so the backward needs neither the logits
// nor the step's seed.
#include "core/backend.h"
#include "kernels/reference/eltwise.h"

namespace mt::reference {

// x is [N, C, H, W] or [N, C]; logits [C].
inline void expect_gate_shapes(std::string_view op, const Tensor& x, const Shape& per_channel) {
  MT_CHECK(x.rank() == 4 || x.rank() == 2, ShapeError, "[", op, "] x ", x.shape().str(),
           " must be [N, C, H, W] or [N, C]");
  MT_CHECK(per_channel == Shape{x.dim(1)}, ShapeError, "[", op, "] logits ", per_channel.str(),
           " for x ", x.shape().str(), ": expected [", x.dim(1), "]");
}

// The channel of the element at row-major logical position i of x.
inline int64_t gate_channel(const Tensor& x, int64_t i) {
  const int64_t inner = x.rank() == 4 ? x.dim(2) * x.dim(3) : 1;
  return (i / inner) % x.dim(1);
}

template <typename T>
void gate_fwd(const GateDesc& d, const Tensor& x, const Tensor& logits, Tensor& y,
              Tensor& workspace) {
  constexpr std::string_view op = "gate_fwd";
  expect_dtype<T>(op, {&x, &logits, &y});
  expect_gate_shapes(op, x, logits.shape());
  expect_same_shape(op, x, y);
  MT_CHECK(d.temperature > 0, BackendError, "[", op, "] temperature ", d.temperature,
           " must be > 0");
  const int64_t C = x.dim(1);
  if (!workspace.defined() || workspace.shape() != Shape{2, C} || workspace.dtype() != x.dtype())
    workspace = Tensor::empty({2, C}, x.dtype());
  T* ws = workspace.data<T>();  // row-major [2, C]: g, then dg
  const T* pl = logits.data<T>();
  for (int64_t c = 0; c < C; ++c) {
    const GateValue v = gate_value(d, static_cast<double>(pl[c * logits.stride(0)]),
                                   static_cast<uint64_t>(c));
    ws[c] = static_cast<T>(v.g);
    ws[C + c] = static_cast<T>(v.dg);
  }
  const T* px = x.data<T>();
  T* py = y.data<T>();
  for_each_offset<2>(x.shape(), {x.strides(), y.strides()}, [&](int64_t i, const auto& o) {
    const T v = d.relu && px[o[0]] < 0 ? T(0) : px[o[0]];
    py[o[1]] = static_cast<T>(v * ws[gate_channel(x, i)]);
  });
}

template <typename T>
void gate_bwd(const GateDesc& d, const Tensor& x, const Tensor& dy, const Tensor& workspace,
              Tensor& dx, Tensor& dlogits) {
  constexpr std::string_view op = "gate_bwd";
  expect_dtype<T>(op, {&x, &dy, &workspace, &dx, &dlogits});
  expect_same_shape(op, x, dy);
  const int64_t C = x.dim(1);
  MT_CHECK(workspace.defined() && workspace.shape() == (Shape{2, C}), BackendError, "[", op,
           "] no gates for ", x.shape().str(), ": run gate_fwd first");
  const T* ws = workspace.data<T>();
  const T* px = x.data<T>();
  const T* pdy = dy.data<T>();
  if (dx.defined()) {
    expect_same_shape(op, x, dx);
    T* pdx = dx.data<T>();
    for_each_offset<3>(x.shape(), {x.strides(), dy.strides(), dx.strides()},
                       [&](int64_t i, const auto& o) {
                         const bool open = !d.relu || px[o[0]] > 0;
                         pdx[o[2]] = open ? static_cast<T>(pdy[o[1]] * ws[gate_channel(x, i)]) : T(0);
                       });
  }
  if (!dlogits.defined()) return;
  expect_gate_shapes(op, x, dlogits.shape());
  std::vector<Acc> sum(C, 0);  // sum of dy * x per channel, in double
  for_each_offset<2>(x.shape(), {x.strides(), dy.strides()}, [&](int64_t i, const auto& o) {
    const T v = d.relu && px[o[0]] < 0 ? T(0) : px[o[0]];
    sum[gate_channel(x, i)] += Acc(pdy[o[1]]) * Acc(v);
  });
  T* pdl = dlogits.data<T>();
  for (int64_t c = 0; c < C; ++c)
    pdl[c * dlogits.stride(0)] = static_cast<T>(sum[c] * Acc(ws[C + c]));
}

}  // namespace mt::reference
