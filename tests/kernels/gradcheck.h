#pragma once
// Finite-difference gradient checks in double: the analytic gradient of L = sum(r * y) from a
// backward kernel, against central differences of L with every input element nudged by eps.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <string>

#include "core/tensor.h"

namespace mt::test {

using Rng = std::mt19937_64;

inline constexpr double kEps = 1e-6;
inline constexpr double kGradTol = 1e-6;

// Fills t (any layout) with values from gen(), visiting memory in order.
template <typename Gen>
void fill_with(Tensor& t, Gen&& gen) {
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen();
}

// f64 values uniform in [lo, hi).
inline Tensor uniform(const Shape& shape, Rng& rng, Layout layout = Layout::nchw, double lo = -1,
                      double hi = 1) {
  Tensor t = Tensor::empty(shape, DType::f64, layout);
  std::uniform_real_distribution<double> u(lo, hi);
  fill_with(t, [&] { return u(rng); });
  return t;
}

// f64 values at least `gap` away from zero (off the ReLU kink), either sign.
inline Tensor off_zero(const Shape& shape, Rng& rng, Layout layout = Layout::nchw,
                       double gap = 0.1) {
  Tensor t = Tensor::empty(shape, DType::f64, layout);
  std::uniform_real_distribution<double> u(gap, 1);
  std::bernoulli_distribution sign(0.5);
  fill_with(t, [&] { return sign(rng) ? u(rng) : -u(rng); });
  return t;
}

// Pairwise distinct f64 values in [-1, 1), spaced 2 / numel apart (no max-pool ties).
inline Tensor distinct(const Shape& shape, Rng& rng, Layout layout = Layout::nchw) {
  Tensor t = Tensor::empty(shape, DType::f64, layout);
  std::vector<int64_t> order(t.numel());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  size_t i = 0;
  fill_with(t, [&] { return -1 + 2.0 * (order[i++] + 0.5) / static_cast<double>(order.size()); });
  return t;
}

// sum(a * b) over logical positions; a and b may differ in layout.
inline double dot(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const Tensor ra = a.to(Layout::nchw), rb = b.to(Layout::nchw);
  const double* pa = ra.data<double>();
  const double* pb = rb.data<double>();
  double s = 0;
  for (int64_t i = 0; i < ra.numel(); ++i) s += pa[i] * pb[i];
  return s;
}

// d loss / d x by central differences; loss() must read x afresh each call. x is restored.
inline Tensor numeric_grad(Tensor& x, const std::function<double()>& loss) {
  Tensor g = Tensor::empty(x.shape(), DType::f64, x.layout());
  double* px = x.data<double>();
  double* pg = g.data<double>();  // same layout as x, so memory position i is one element in both
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double keep = px[i];
    px[i] = keep + kEps;
    const double up = loss();
    px[i] = keep - kEps;
    const double down = loss();
    px[i] = keep;
    pg[i] = (up - down) / (2 * kEps);
  }
  return g;
}

// Checks an analytic gradient of x against finite differences of loss().
inline void check_grad(const std::string& what, const Tensor& analytic, Tensor& x,
                       const std::function<double()>& loss) {
  const Tensor numeric = numeric_grad(x, loss);
  const double err = max_rel_diff(analytic, numeric);
  INFO(what << ": max |analytic - numeric| / max |numeric| = " << err);
  CHECK(err < kGradTol);
  // A zero gradient passes any relative test against a zero reference: make sure it is not.
  CHECK(std::sqrt(dot(numeric, numeric)) > 1e-3);
}

inline const char* layout_name(Layout l) { return l == Layout::nchw ? "nchw" : "nhwc"; }

}  // namespace mt::test
