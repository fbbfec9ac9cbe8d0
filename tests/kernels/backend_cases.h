#pragma once
// Backend equivalence (ggml's test-backend-ops): one table of op cases runs on every backend under
// test (the oneDNN CPU backend in tests/kernels, the CUDA backend in tests/cuda) and on the
// reference backend in f64 over the same data (rounded to f32 first); every output, forward and
// backward, must agree within f32 tolerance (norm-relative). The case tables live beside this
// file, one header per op family (backend_cases_*.h), so that both test binaries run the same ones.
//
// A case makes f64 inputs on the host; the backend under test gets f32 copies on its own device
// (to_device, a no-op on the host backends) and its outputs come back with to_host. Outputs are
// allocated poisoned with NaN through the backend (a GPU tensor cannot be filled from the host),
// so an element a kernel forgets to write fails the comparison (max_rel_diff reports a NaN
// mismatch as infinite) instead of passing as a stale zero.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "core/device_transfer.h"
#include "kernels/reference/reference_backend.h"
#include "tests/kernels/gradcheck.h"

namespace mt::test {

// f32 against f64 over a few thousand terms at most: the f32 rounding of the inputs is shared,
// what remains is the f32 arithmetic of the backend under test.
inline constexpr double kTol = 1e-4;
// Scalars summed over 1e5 or more terms: a parallel backend adds partial sums in an order of its
// own (threads, blocks, atomics), and the f32 error of a sum grows with the number of partial sums.
inline constexpr double kReductionTol = 1e-3;

struct Output {
  std::string name;
  Tensor value;
  double tol = kTol;
  bool may_vanish = false;  // an all-zero reference is right here (nearly hard gates, empty rows)
};
using Outputs = std::vector<Output>;
using Inputs = std::vector<Tensor>;

struct Case {
  std::string name;
  bool both_layouts;                                    // rank-4 activations: run nhwc and nchw
  std::function<Inputs(Rng&, Layout)> inputs;           // f64 on the host (labels i64)
  std::function<Outputs(KernelBackend&, Inputs&)> run;  // inputs already on the backend's device
};

inline Layout other_layout(Layout l) { return l == Layout::nhwc ? Layout::nchw : Layout::nhwc; }

// An output of `shape` on x's device in x's dtype, in `layout` when rank 4 (else row-major),
// filled with NaN through the backend.
inline Tensor poisoned(KernelBackend& be, const Tensor& x, const Shape& shape, Layout layout) {
  Tensor t = Tensor::empty(shape, x.dtype(), shape.rank() == 4 ? layout : Layout::nchw, x.device());
  be.fill(t, std::numeric_limits<double>::quiet_NaN());
  return t;
}

// An output in x's layout.
inline Tensor like(KernelBackend& be, const Tensor& x, const Shape& shape) {
  return poisoned(be, x, shape, x.layout());
}

// A copy of t on its own device, in its layout: for inputs an op updates in place.
inline Tensor dup(KernelBackend& be, const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype(), t.layout(), t.device());
  be.copy(t, out);
  return out;
}

// A host f64 scalar, to compare values a backend returns (sum_squares).
inline Tensor host_scalar(double value) {
  Tensor t = Tensor::empty({}, DType::f64);
  t.data<double>()[0] = value;
  return t;
}

inline Tensor labels(const std::vector<int64_t>& values) {
  Tensor t = Tensor::empty(Shape{static_cast<int64_t>(values.size())}, DType::i64);
  for (size_t i = 0; i < values.size(); ++i) t.data<int64_t>()[i] = values[i];
  return t;
}

// The inputs as the reference sees them: f32 values held in f64, on the host.
inline Inputs for_reference(const Inputs& master) {
  Inputs out;
  for (const Tensor& t : master)
    out.push_back(!t.defined() || t.dtype() == DType::i64 ? t : t.to(DType::f32).to(DType::f64));
  return out;
}

// The same values in f32 on the backend's device (labels stay i64).
inline Inputs for_backend(const Inputs& master, KernelBackend& be) {
  Inputs out;
  for (const Tensor& t : master) {
    const Tensor host = !t.defined() || t.dtype() == DType::i64 ? t : t.to(DType::f32);
    out.push_back(to_device(host, be));
  }
  return out;
}

// Both backends must agree on every output; the reference output must not be all zero (a test
// that compares zeros with zeros proves nothing).
inline void compare(const std::string& what, const Outputs& got, const Outputs& want,
                    KernelBackend& be) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const Tensor host = to_host(got[i].value, be);
    const double err = max_rel_diff(host, want[i].value);
    INFO(what << ": " << want[i].name << " " << want[i].value.shape().str() << ": rel diff " << err
              << " (tolerance " << want[i].tol << ")");
    CHECK(err < want[i].tol);
    if (!want[i].may_vanish && want[i].value.numel() > 0)
      CHECK(max_rel_diff(want[i].value, Tensor::zeros(want[i].value.shape(), DType::f64)) > 0);
  }
}

inline void check_case(KernelBackend& be, const Case& c, Layout layout) {
  Rng rng(std::hash<std::string>{}(c.name));
  const Inputs master = c.inputs(rng, layout);
  ReferenceBackend ref;
  Inputs ref_in = for_reference(master), be_in = for_backend(master, be);
  const Outputs want = c.run(ref, ref_in);
  const Outputs got = c.run(be, be_in);
  compare(std::string(be.name()) + " " + c.name + " [" + layout_name(layout) + "]", got, want, be);
}

// Runs every case on `be` in each layout it asks for, one section each.
inline void check_cases(KernelBackend& be, const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    for (Layout layout : {Layout::nhwc, Layout::nchw}) {
      if (!c.both_layouts && layout == Layout::nhwc) continue;
      DYNAMIC_SECTION(c.name << " " << layout_name(layout)) { check_case(be, c, layout); }
    }
  }
}

}  // namespace mt::test
