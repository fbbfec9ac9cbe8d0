#pragma once
// A file that appears whole or not at all. Bytes go to a temporary file in the destination's own
// directory (a rename across file systems would copy, and a copy can tear); commit() fsyncs it,
// renames it over the destination and fsyncs the directory so the rename itself survives a power
// cut. Anything short of a successful commit() removes the temporary file and leaves the previous
// file at `path` byte-identical (the lesson of Lightning #688/#19970: a kill during a plain
// write left checkpoints that failed with "unexpected EOF").
//
// Every failure throws IoError naming the destination, the step that failed and the OS error.
#include <cstddef>
#include <string>

namespace mt {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();  // without commit(): removes the temporary file
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  [[noreturn]] void fail(const char* step, int os_error);
  void discard() noexcept;

  std::string path_;
  std::string dir_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Convenience: the whole content at once (small files such as a `last` pointer or a JSON state).
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace mt
