#pragma once
// Elementwise ops over tensors of one logical shape and any strides. Each walks the logical
// shape once and reads every operand through its own strides, so an nhwc operand next to an
// nchw one is fine.
#include <cmath>

#include "core/hard_activations.h"
#include "kernels/reference/strided.h"

namespace mt::reference {

inline void expect_same_shape(std::string_view op, const Tensor& a, const Tensor& b) {
  MT_CHECK(a.shape() == b.shape(), ShapeError, "[", op, "] shapes ", a.shape().str(), " and ",
           b.shape().str(), " differ");
}

// out = f(in) elementwise.
template <typename T, typename F>
void map_unary(std::string_view op, const Tensor& in, Tensor& out, F&& f) {
  expect_dtype<T>(op, {&in, &out});
  expect_same_shape(op, in, out);
  const T* src = in.data<T>();
  T* dst = out.data<T>();
  for_each_offset<2>(in.shape(), {in.strides(), out.strides()},
                     [&](int64_t, const auto& o) { dst[o[1]] = f(src[o[0]]); });
}

// out = f(a, b) elementwise.
template <typename T, typename F>
void map_binary(std::string_view op, const Tensor& a, const Tensor& b, Tensor& out, F&& f) {
  expect_dtype<T>(op, {&a, &b, &out});
  expect_same_shape(op, a, b);
  expect_same_shape(op, a, out);
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* dst = out.data<T>();
  for_each_offset<3>(a.shape(), {a.strides(), b.strides(), out.strides()},
                     [&](int64_t, const auto& o) { dst[o[2]] = f(pa[o[0]], pb[o[1]]); });
}

template <typename T>
void relu_fwd(const Tensor& x, Tensor& y) {
  map_unary<T>("relu_fwd", x, y, [](T v) { return v > 0 ? v : T(0); });
}

// From the output: y > 0 exactly where x > 0.
template <typename T>
void relu_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) {
  map_binary<T>("relu_bwd", y, dy, dx, [](T out, T g) { return out > 0 ? g : T(0); });
}

template <typename T>
void sigmoid_fwd(const Tensor& x, Tensor& y) {
  // 1 / (1 + e^-x) saturates cleanly: e^-x overflows to inf for very negative x, giving 0.
  map_unary<T>("sigmoid_fwd", x, y,
               [](T v) { return static_cast<T>(1 / (1 + std::exp(-Acc(v)))); });
}

template <typename T>
void sigmoid_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) {
  map_binary<T>("sigmoid_bwd", y, dy, dx,
                [](T out, T g) { return static_cast<T>(g * out * (1 - out)); });
}

template <typename T>
void relu6_fwd(const Tensor& x, Tensor& y) {
  map_unary<T>("relu6_fwd", x, y, [](T v) { return relu6_value(v); });
}

template <typename T>
void relu6_bwd(const Tensor& x, const Tensor& dy, Tensor& dx) {
  map_binary<T>("relu6_bwd", x, dy, dx, [](T v, T g) { return relu6_grad(v, g); });
}

template <typename T>
void hardsigmoid_fwd(const Tensor& x, Tensor& y) {
  map_unary<T>("hardsigmoid_fwd", x, y, [](T v) { return hardsigmoid_value(v); });
}

template <typename T>
void hardsigmoid_bwd(const Tensor& x, const Tensor& dy, Tensor& dx) {
  map_binary<T>("hardsigmoid_bwd", x, dy, dx, [](T v, T g) { return hardsigmoid_grad(v, g); });
}

template <typename T>
void hardswish_fwd(const Tensor& x, Tensor& y) {
  map_unary<T>("hardswish_fwd", x, y, [](T v) { return hardswish_value(v); });
}

template <typename T>
void hardswish_bwd(const Tensor& x, const Tensor& dy, Tensor& dx) {
  map_binary<T>("hardswish_bwd", x, dy, dx, [](T v, T g) { return hardswish_grad(v, g); });
}

template <typename T>
void add_fwd(const Tensor& a, const Tensor& b, Tensor& y) {
  map_binary<T>("add_fwd", a, b, y, [](T u, T v) { return static_cast<T>(u + v); });
}

template <typename T>
void add_inplace(Tensor& dst, const Tensor& src) {
  map_binary<T>("add_inplace", dst, src, dst, [](T u, T v) { return static_cast<T>(u + v); });
}

template <typename T>
void scale_inplace(Tensor& t, double factor) {
  map_unary<T>("scale_inplace", t, t, [factor](T v) { return static_cast<T>(v * factor); });
}

// Any dtype that copies bit for bit (f32, f64, i64 labels).
template <typename T>
void copy(const Tensor& src, Tensor& dst) {
  map_unary<T>("copy", src, dst, [](T v) { return v; });
}

template <typename T>
void fill(Tensor& t, double value) {
  expect_dtype<T>("fill", {&t});
  std::fill_n(t.data<T>(), t.numel(), static_cast<T>(value));  // every element, whatever the order
}

// b's strides seen from a [N, C, H, W]: b of a's shape as is, [C], [N, C] or [N, C, 1, 1]
// broadcast over the remaining dims with stride 0.
inline std::vector<int64_t> mul_broadcast_strides(std::string_view op, const Tensor& a,
                                                  const Shape& b_shape,
                                                  const std::vector<int64_t>& b_strides) {
  if (b_shape == a.shape()) return b_strides;
  const bool per_channel = a.rank() == 4 && b_shape.rank() == 1 && b_shape[0] == a.dim(1);
  const bool rank_ok =  // [N, C], or [N, C, 1, 1] (squeeze-excitation as ONNX writes it)
      b_shape.rank() == 2 || (b_shape.rank() == 4 && b_shape[2] == 1 && b_shape[3] == 1);
  const bool per_sample_channel =
      a.rank() == 4 && rank_ok && b_shape[0] == a.dim(0) && b_shape[1] == a.dim(1);
  MT_CHECK(per_channel || per_sample_channel, ShapeError, "[", op, "] b ", b_shape.str(),
           " must equal a ", a.shape().str(), " or be per channel ([C], [N, C] or [N, C, 1, 1])");
  if (per_channel) return {0, b_strides[0], 0, 0};
  return {b_strides[0], b_strides[1], 0, 0};
}

template <typename T>
void mul_fwd(const Tensor& a, const Tensor& b, Tensor& y) {
  expect_dtype<T>("mul_fwd", {&a, &b, &y});
  expect_same_shape("mul_fwd", a, y);
  const auto sb = mul_broadcast_strides("mul_fwd", a, b.shape(), b.strides());
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* py = y.data<T>();
  for_each_offset<3>(a.shape(), {a.strides(), sb, y.strides()}, [&](int64_t, const auto& o) {
    py[o[2]] = static_cast<T>(pa[o[0]] * pb[o[1]]);
  });
}

// da = dy * b (broadcast); db = dy * a summed over the dims b was broadcast along.
template <typename T>
void mul_bwd(const Tensor& a, const Tensor& b, const Tensor& dy, Tensor& da, Tensor& db) {
  constexpr std::string_view op = "mul_bwd";
  expect_dtype<T>(op, {&a, &b, &dy, &da, &db});
  expect_same_shape(op, a, dy);
  const auto sb = mul_broadcast_strides(op, a, b.shape(), b.strides());
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  const T* pdy = dy.data<T>();
  if (da.defined()) {
    expect_same_shape(op, a, da);
    T* pda = da.data<T>();
    for_each_offset<3>(a.shape(), {dy.strides(), sb, da.strides()}, [&](int64_t, const auto& o) {
      pda[o[2]] = static_cast<T>(pdy[o[0]] * pb[o[1]]);
    });
  }
  if (db.defined()) {
    MT_CHECK(db.shape() == b.shape(), ShapeError, "[", op, "] db ", db.shape().str(), " for b ",
             b.shape().str());
    // Sum in double into a row-major scratch of b's shape, then store through db's strides.
    std::vector<Acc> sum(b.numel(), 0);
    const auto s_sum =
        mul_broadcast_strides(op, a, b.shape(), strides_for(b.shape(), Layout::nchw));
    for_each_offset<3>(a.shape(), {a.strides(), dy.strides(), s_sum}, [&](int64_t, const auto& o) {
      sum[o[2]] += Acc(pa[o[0]]) * Acc(pdy[o[1]]);
    });
    T* pdb = db.data<T>();
    for_each_offset<1>(db.shape(), {db.strides()},
                       [&](int64_t i, const auto& o) { pdb[o[0]] = static_cast<T>(sum[i]); });
  }
}

}  // namespace mt::reference
