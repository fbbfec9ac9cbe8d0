#pragma once
// Typed errors that carry the source location of the check that failed.
// Library code throws; only the morphtrain entry point maps errors to exit codes.
//
// what() is the message a user reads (their file, key, value); the source location is kept apart
// in where(), for a developer, so that no user-facing message carries a path of the build machine.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace mt {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  Error(const std::string& message, std::string where)
      : std::runtime_error(message), where_(std::move(where)) {}
  // "file:line" of the check that threw; empty when thrown without MT_CHECK / MT_FAIL.
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};
class ShapeError : public Error { using Error::Error; };
class ConfigError : public Error { using Error::Error; };
class DataError : public Error { using Error::Error; };
class BackendError : public Error { using Error::Error; };
class IoError : public Error { using Error::Error; };

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
template <typename E, typename... Args>
[[noreturn]] void fail(const char* file, int line, const Args&... args) {
  throw E(concat(args...), concat(file, ":", line));
}
}  // namespace detail

}  // namespace mt

// MT_CHECK(cond, ShapeError, "[conv2d] channels ", a, " != ", b);
#define MT_CHECK(cond, ErrorType, ...)                                   \
  do {                                                                   \
    if (!(cond)) ::mt::detail::fail<::mt::ErrorType>(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

#define MT_FAIL(ErrorType, ...) ::mt::detail::fail<::mt::ErrorType>(__FILE__, __LINE__, __VA_ARGS__)
