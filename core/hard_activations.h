#pragma once
// relu6, hardsigmoid and hardswish per element, and their gradients, written once for every
// backend: the reference instantiates them in double, the CPU loops in float (compares and
// selects, so they vectorise; see kernels/CMakeLists.txt), the CUDA kernels on the device.
// PyTorch 1.13's scalar formulas in its order of operations, so that float results match torch's.
#include "core/backend.h"  // MT_HOST_DEVICE

namespace mt {

// min(max(x, 0), 6), written with comparisons that let NaN through (as torch's clamp does).
template <typename T>
MT_HOST_DEVICE inline T relu6_value(T x) {
  return x < T(0) ? T(0) : (x > T(6) ? T(6) : x);
}

template <typename T>
MT_HOST_DEVICE inline T hardsigmoid_value(T x) {
  return relu6_value<T>(x + T(3)) / T(6);
}

template <typename T>
MT_HOST_DEVICE inline T hardswish_value(T x) {
  return x * relu6_value<T>(x + T(3)) / T(6);
}

// dL/dx from x and dL/dy. The kinks take torch's values (core/backend_kernels.inc). NB: at x = 3
// torch 1.13's CPU hardswish backward answers 1.5 in its scalar loop and its CUDA kernel, 1 in
// its vectorised loop (so it depends on the tensor's length); we take 1.5, the formula's.
template <typename T>
MT_HOST_DEVICE inline T relu6_grad(T x, T dy) {
  return x > T(0) && x < T(6) ? dy : T(0);
}

template <typename T>
MT_HOST_DEVICE inline T hardsigmoid_grad(T x, T dy) {
  return x > T(-3) && x < T(3) ? dy * (T(1) / T(6)) : T(0);  // torch multiplies by 1/6 too
}

template <typename T>
MT_HOST_DEVICE inline T hardswish_grad(T x, T dy) {
  return x < T(-3) ? T(0) : (x <= T(3) ? dy * (x / T(3) + T(0.5)) : dy);
}

}  // namespace mt
