// The GPU tests' own entry point: on a machine without a visible GPU, a run prints why in one line
// and exits 77, which ctest reports as skipped (SKIP_RETURN_CODE). Listing tests still works
// there, because catch_discover_tests lists them at build time, wherever the build runs.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <iostream>

#include "kernels/cuda/cuda_context.h"

namespace {

constexpr int kSkipped = 77;

// Whether the command line only asks for information, so no test would run.
bool only_lists(const Catch::ConfigData& c) {
  return c.listTests || c.listTestNamesOnly || c.listTags || c.listReporters || c.showHelp ||
         c.libIdentify;
}

}  // namespace

int main(int argc, char* argv[]) {
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  if (!only_lists(session.configData()) && mt::cuda::device_count() == 0) {
    std::cout << "skipped: no CUDA GPU visible (" << mt::cuda::no_device_reason() << ")\n";
    return kSkipped;
  }
  return session.run();
}
