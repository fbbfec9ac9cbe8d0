#pragma once
// Runs the built morphtrain command with `args` through the shell (stderr folded into stdout)
// and returns its exit code and output.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

namespace mt::testing {

struct CliResult {
  int exit_code;
  std::string output;
};

// `env`: assignments put before the command ("MORPHTRAIN_DEBUG=1"), or empty.
inline CliResult run_morphtrain(const std::string& args, const std::string& env = "") {
  const char* dir = std::getenv("MORPHTRAIN_BUILD_DIR");
  REQUIRE(dir);  // ctest sets it
  const std::string cmd = env + (env.empty() ? "" : " ") + std::string(dir) + "/tools/morphtrain " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace mt::testing
