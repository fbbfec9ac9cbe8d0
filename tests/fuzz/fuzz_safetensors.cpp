// safetensors files (weights a user brings, checkpoints): the parser over bytes in memory.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "core/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const mt::SafetensorsContent c = mt::parse_safetensors(data, size, "fuzz.safetensors");
    for (const auto& [name, t] : c.tensors) (void)t.nbytes();
  } catch (const std::exception&) {  // a rejected file is the expected outcome
  }
  return 0;
}
