#pragma once
// What the tests hand to the Python cross-checks: float32 .npy files, and whether python3-onnx is
// there to check an ONNX export (the test command installs it; without it the check is skipped
// with a WARN).
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "core/tensor.h"

namespace mt::testing {

inline bool onnx_available() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") == 0;
  return ok;
}

// A float32 .npy file (format 1.0) of t in row-major order.
inline void write_npy(const std::filesystem::path& path, const Tensor& t) {
  Tensor c = Tensor::empty(t.shape(), DType::f32);
  c.copy_from(t);
  std::string dims;
  for (int64_t d : t.shape().dims()) dims += std::to_string(d) + ", ";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');  // magic + version + length + header + \n
  header += '\n';                                      // end on a multiple of 64
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t n = static_cast<uint16_t>(header.size());
  out.put(static_cast<char>(n & 0xFF)).put(static_cast<char>(n >> 8));
  out << header;
  out.write(static_cast<const char*>(c.raw()), static_cast<std::streamsize>(c.nbytes()));
  REQUIRE(out.good());
}

}  // namespace mt::testing
