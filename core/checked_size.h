#pragma once
// Sizes computed from what a file says about itself (an IDX header's dimensions, an image's width
// and height). Multiplied unchecked, dimensions whose product passes 2^64 wrap to a small number
// that a tiny file then satisfies, and a later read runs off the end of its buffer. Every such
// product goes through here, and a caller that gets nullopt rejects the file, naming it.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <type_traits>

namespace mt {

// a * b, or nullopt when it does not fit in size_t.
inline std::optional<size_t> checked_mul(size_t a, size_t b) {
  size_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// The product of `factors` (1 for none), or nullopt when a negative factor or any partial product
// does not fit in size_t.
template <typename Range>
std::optional<size_t> checked_product(const Range& factors) {
  size_t out = 1;
  for (const auto f : factors) {
    if constexpr (std::is_signed_v<decltype(f)>)
      if (f < 0) return std::nullopt;
    const std::optional<size_t> next = checked_mul(out, static_cast<size_t>(f));
    if (!next) return std::nullopt;
    out = *next;
  }
  return out;
}
inline std::optional<size_t> checked_product(std::initializer_list<int64_t> factors) {
  return checked_product<std::initializer_list<int64_t>>(factors);
}

}  // namespace mt
