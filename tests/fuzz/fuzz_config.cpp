// The experiment config YAML: parse, schema check and the typed settings, as `--config` reads it.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "scratch_file.h"
#include "tools/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mt::fuzz::scratch_file("config.yaml", data, size);
  try {
    const mt::tools::Config c = mt::tools::Config::load(path);
    (void)c.settings().train.batch_size;
  } catch (const std::exception&) {
  }
  return 0;
}
