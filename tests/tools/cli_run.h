#pragma once
// Runs the built morphtrain command with `args` through the shell (stderr folded into stdout)
// and returns its exit code and output; or starts it in the background, for tests of two
// processes at once.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

namespace mt::testing {

struct CliResult {
  int exit_code;
  std::string output;
};

inline std::string morphtrain_path() {
  const char* dir = std::getenv("MORPHTRAIN_BUILD_DIR");
  REQUIRE(dir);  // ctest sets it
  return std::string(dir) + "/tools/morphtrain";
}

// `env`: assignments put before the command ("MORPHTRAIN_DEBUG=1"), or empty.
inline CliResult run_morphtrain(const std::string& args, const std::string& env = "") {
  const std::string cmd = env + (env.empty() ? "" : " ") + morphtrain_path() + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A morphtrain running in the background, its output going to `log`. The shell execs it, so the
// process is morphtrain itself, which a test may stop and continue.
class BackgroundRun {
 public:
  BackgroundRun(const std::string& args, const std::string& log) : log_(log) {
    const std::string cmd = "exec " + morphtrain_path() + " " + args + " >" + log + " 2>&1";
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~BackgroundRun() {
    if (!done_) {  // a test that failed half-way: leave no process behind
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
    }
  }
  BackgroundRun(const BackgroundRun&) = delete;
  BackgroundRun& operator=(const BackgroundRun&) = delete;

  // SIGSTOP, returning once it has stopped (kill() returns while it may still run a moment on
  // another core); false when it had ended instead.
  bool stop() {
    if (done_) return false;
    ::kill(pid_, SIGSTOP);
    if (::waitpid(pid_, &status_, WUNTRACED) == pid_ && WIFSTOPPED(status_)) return true;
    done_ = true;
    return false;
  }
  void resume() {
    if (!done_) ::kill(pid_, SIGCONT);
  }
  bool running() {
    if (!done_ && ::waitpid(pid_, &status_, WNOHANG) == pid_) done_ = true;
    return !done_;
  }
  // Waits for it to end; its exit code (-1 when a signal ended it) and output.
  CliResult wait() {
    if (!done_) ::waitpid(pid_, &status_, 0);
    done_ = true;
    std::ostringstream out;
    out << std::ifstream(log_).rdbuf();
    return {WIFEXITED(status_) ? WEXITSTATUS(status_) : -1, out.str()};
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool done_ = false;
};

}  // namespace mt::testing
