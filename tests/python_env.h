#pragma once
// Running the Python side of a cross-check: Debian's /usr/bin/python3 with python3-torch (the
// test command installs it). Where torch cannot be imported the test is skipped with a visible
// warning, never silently.
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

namespace mt::testing {

inline bool torch_available() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
  return ok;
}

// Runs `script args` with /usr/bin/python3 from the source tree (ctest's working directory);
// fails the test on a non-zero exit.
inline void run_python(const std::string& script, const std::string& args) {
  const std::string cmd = "/usr/bin/python3 " + script + " " + args;
  INFO("command: " << cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
}

}  // namespace mt::testing

#define MT_REQUIRE_TORCH()                                                                 \
  do {                                                                                     \
    if (!::mt::testing::torch_available()) {                                               \
      WARN("SKIPPED: python3-torch cannot be imported by /usr/bin/python3; "              \
           "install it (bash scripts/test.sh does) to run this cross-check");              \
      return;                                                                              \
    }                                                                                      \
  } while (0)
