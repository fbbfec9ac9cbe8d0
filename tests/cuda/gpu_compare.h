#pragma once
// The GPU tests' view of the backend-equivalence harness (tests/kernels/backend_cases.h): the
// names the GPU-only tests use, and check_cases on gpu(), the backend every GPU test runs.
#include <vector>

#include "tests/kernels/backend_cases.h"

namespace mt::gputest {

using test::Case;
using test::Inputs;
using test::kTol;
using test::labels;
using test::Outputs;
using test::Rng;

// The backend under test: the CUDA backend with TF32 off (gpu_backend.cpp), one for the process
// so that every test shares its handles and algorithm cache.
KernelBackend& gpu();

inline void check_cases(const std::vector<Case>& cases) { test::check_cases(gpu(), cases); }

}  // namespace mt::gputest
