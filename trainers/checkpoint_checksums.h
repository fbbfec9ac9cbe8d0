#pragma once
// Checksums over every byte of a checkpoint, kept inside its files so a checkpoint stays the
// three files PyTorch users know. trainer_state.json is written last and records the zlib CRC-32
// of each safetensors file whole (header and data: a flipped bit in a tensor name or a metadata
// value counts as much as one in the data), and a CRC-32 of its own content, so a flipped bit
// anywhere is found before anything is loaded and `auto` can fall back to an older checkpoint.
//
//   "files": {"model.safetensors": "1a2b3c4d", "optimizer.safetensors": "..."},
//   "checksum": "5e6f7a8b"    CRC-32 of the object without "checksum", as nlohmann's compact
//                             dump() writes it (keys sorted), so any reader can recompute it
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mt::checkpoint_detail {

// The whole file's bytes; IoError naming the file when it cannot be read.
std::vector<uint8_t> read_file_bytes(const std::string& path);
uint32_t bytes_crc32(const void* data, size_t size);
// The CRC-32 of what `crc` covered followed by `size` bytes at `data` (zlib's crc32, any size).
uint32_t extend_crc32(uint32_t crc, const void* data, size_t size);

// Adds "files" (name -> hex CRC-32 of `dir`/name) and "checksum" to `state`.
void seal_state_json(nlohmann::json& state, const std::string& dir, const std::vector<std::string>& files);

// Checks "checksum" and returns "files"; IoError naming `source` when either is missing,
// malformed or does not match.
std::map<std::string, std::string> verify_state_json(const nlohmann::json& state, const std::string& source);

// IoError naming `path` when its bytes' CRC-32 is not `recorded`.
void verify_file_crc(const std::string& path, const std::vector<uint8_t>& bytes, const std::string& recorded);

}  // namespace mt::checkpoint_detail
