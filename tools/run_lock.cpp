#include "tools/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace mt::tools {

RunDirLock::RunDirLock(const std::filesystem::path& run_dir) {
  fd_ = ::open(run_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  MT_CHECK(fd_ >= 0, IoError, "cannot open run directory '", run_dir.string(), "' to lock it: ",
           std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
  const int err = errno;
  ::close(fd_);
  fd_ = -1;
  MT_CHECK(err != EWOULDBLOCK, IoError, "run directory '", run_dir.string(),
           "' is in use: another morphtrain process is writing to it (training or resuming it). "
           "hint: wait for it to finish; --evaluate and --morph-report may read it meanwhile");
  MT_FAIL(IoError, "cannot lock run directory '", run_dir.string(), "': ", std::strerror(err));
}

RunDirLock::~RunDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the lock
}

}  // namespace mt::tools
