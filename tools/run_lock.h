#pragma once
// The advisory lock of a run directory. The process that writes a run (training, a resume, a
// pipeline) holds it for as long as it runs; a second writer of the same run (two `--resume auto`
// at once) would remove the first one's in-progress checkpoint and interleave its metrics, so it
// refuses instead. Readers (--evaluate, --morph-report) take no lock and write nothing.
//
// flock(2) on the directory itself: no lock file to leave behind, and the kernel drops the lock
// when its holder exits, however it exits (a SIGKILL leaves no stale lock).
#include <filesystem>

namespace mt::tools {

class RunDirLock {
 public:
  // Takes the lock of `run_dir` without waiting; throws IoError naming the directory when another
  // process holds it.
  explicit RunDirLock(const std::filesystem::path& run_dir);
  ~RunDirLock();
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace mt::tools
