#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace mt {

namespace {

std::atomic<uint64_t> temp_counter{0};

std::string parent_dir(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? std::string(".") : dir;
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), dir_(parent_dir(path_)) {
  MT_CHECK(!path_.empty(), IoError, "[atomic_file] empty destination path");
  const std::string base = std::filesystem::path(path_).filename().string();
  MT_CHECK(!base.empty(), IoError, "[atomic_file] cannot write '", path_,
           "': the path names a directory, not a file");
  // O_EXCL with a name unique per process and call: two writers never share a temporary file.
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    temp_path_ = dir_ + "/." + base + ".tmp." + std::to_string(::getpid()) + "." +
                 std::to_string(temp_counter.fetch_add(1));
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno != EEXIST) {
      const int err = errno;
      temp_path_.clear();  // nothing was created, nothing to remove
      fail("creating a temporary file in its directory", err);
    }
  }
  if (fd_ < 0) {
    temp_path_.clear();
    fail("creating a temporary file in its directory", EEXIST);
  }
}

AtomicFile::~AtomicFile() {
  if (!committed_) discard();
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
}

void AtomicFile::fail(const char* step, int os_error) {
  const std::string temp = temp_path_;
  discard();
  MT_FAIL(IoError, "[atomic_file] cannot write '", path_, "': ", step,
          temp.empty() ? "" : " ('" + temp + "')", " failed: ", std::strerror(os_error),
          "; the previous file (if any) is unchanged");
}

void AtomicFile::write(const void* data, size_t bytes) {
  MT_CHECK(fd_ >= 0 && !committed_, IoError, "[atomic_file] write to '", path_,
           "' after commit or failure");
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("writing", errno);
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  MT_CHECK(fd_ >= 0 && !committed_, IoError, "[atomic_file] commit of '", path_,
           "' after commit or failure");
  if (::fsync(fd_) != 0) fail("fsync of the temporary file", errno);
  const int fd = fd_;
  fd_ = -1;
  // NB: close() can report a deferred write error (NFS); the data is not safe if it does.
  if (::close(fd) != 0) fail("closing the temporary file", errno);
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail("renaming over the destination", errno);
  committed_ = true;
  temp_path_.clear();
  // The rename is durable only once the directory entry is; some file systems cannot fsync a
  // directory (EINVAL), and there the rename is as durable as it gets.
  const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return;
  const int rc = ::fsync(dir_fd);
  const int err = errno;
  ::close(dir_fd);
  MT_CHECK(rc == 0 || err == EINVAL || err == EROFS, IoError, "[atomic_file] wrote '", path_,
           "' but fsync of its directory '", dir_, "' failed: ", std::strerror(err));
}

void write_file_atomically(const std::string& path, const std::string& content) {
  AtomicFile file(path);
  file.write(content.data(), content.size());
  file.commit();
}

}  // namespace mt
