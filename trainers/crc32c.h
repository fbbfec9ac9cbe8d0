#pragma once
// CRC32C (Castagnoli) and the masked form TFRecord framing stores. Debian ships no C++ CRC32C
// (notes/ecosystem.md 1.2), so this is our own table-driven version.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mt {

// Reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF; crc32c("123456789") == 0xE3069283.
uint32_t crc32c(const void* data, size_t size);
inline uint32_t crc32c(std::string_view s) { return crc32c(s.data(), s.size()); }

// TFRecord masks CRCs so that a CRC of data containing CRCs is not degenerate.
inline uint32_t mask_crc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u; }
inline uint32_t masked_crc32c(std::string_view s) { return mask_crc(crc32c(s)); }

}  // namespace mt
