#pragma once
// Backend equivalence for the GPU (ggml's test-backend-ops, as tests/kernels/test_cpu_vs_reference
// does for the CPU): a case makes f64 inputs on the host; the reference backend runs on them in
// f64 (rounded to f32 values first), the backend under test on f32 copies moved to its device with
// copy(); every output comes back to the host and must agree within f32 tolerance.
//
// Outputs are allocated poisoned with NaN, so an element a kernel forgets to write fails the
// comparison (max_rel_diff reports a NaN mismatch as infinite) instead of passing as a stale zero.
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

namespace mt::gputest {

using test::Rng;

// f32 against f64 over a few thousand terms at most: the f32 rounding of the inputs is shared,
// what remains is the f32 arithmetic of the backend under test.
inline constexpr double kTol = 1e-4;
// Scalars summed over 1e5 or more terms: the GPU adds partial sums in an order of its own
// (blocks, atomics), and the f32 error of a sum grows with the number of partial sums.
inline constexpr double kReductionTol = 1e-3;

// The backend under test: the CUDA backend with TF32 off (gpu_backend.cpp), one for the process
// so that every test shares its handles and algorithm cache.
KernelBackend& gpu();

struct Output {
  std::string name;
  Tensor value;
  double tol = kTol;
  bool may_vanish = false;  // an all-zero reference is right here (nearly hard gates)
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
// filled with NaN through the backend (a GPU tensor cannot be filled from the host).
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
    INFO(what << ": " << want[i].name << " " << want[i].value.shape().str() << ": rel diff "
              << err << " (tolerance " << want[i].tol << ")");
    CHECK(err < want[i].tol);
    if (!want[i].may_vanish && want[i].value.numel() > 0)
      CHECK(max_rel_diff(want[i].value, Tensor::zeros(want[i].value.shape(), DType::f64)) > 0);
  }
}

inline void check_case(const Case& c, Layout layout) {
  Rng rng(std::hash<std::string>{}(c.name));
  const Inputs master = c.inputs(rng, layout);
  ReferenceBackend ref;
  Inputs ref_in = for_reference(master);
  Inputs gpu_in = for_backend(master, gpu());
  const Outputs want = c.run(ref, ref_in);
  const Outputs got = c.run(gpu(), gpu_in);
  compare(c.name + " [" + test::layout_name(layout) + "]", got, want, gpu());
}

// Runs every case in each layout it asks for, one section each.
inline void check_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    for (Layout layout : {Layout::nhwc, Layout::nchw}) {
      if (!c.both_layouts && layout == Layout::nhwc) continue;
      DYNAMIC_SECTION(c.name << " " << test::layout_name(layout)) { check_case(c, layout); }
    }
  }
}

}  // namespace mt::gputest
