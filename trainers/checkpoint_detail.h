#pragma once
// Pieces shared by the checkpoint writer (checkpoint.cpp) and reader (checkpoint_load.cpp).
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace mt::checkpoint_detail {

inline constexpr const char* kModelFile = "model.safetensors";
inline constexpr const char* kOptimizerFile = "optimizer.safetensors";
inline constexpr const char* kStateFile = "trainer_state.json";

// zlib CRC-32 of the tensors' row-major bytes, in the given order: with the order of the data
// buffer it equals zlib.crc32 of everything after a safetensors file's header.
uint32_t crc32_of(const std::vector<const Tensor*>& tensors);
std::string hex32(uint32_t value);

}  // namespace mt::checkpoint_detail
