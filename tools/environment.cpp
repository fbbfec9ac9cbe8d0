#include "tools/environment.h"

#include <cstdlib>
#include <cstring>

#include "kernels/cpu/conv_thin.h"
#include "kernels/cpu/conv_winograd.h"

namespace mt::tools {

namespace {

bool equals(const char* var, const char* value) {
  const char* v = std::getenv(var);
  return v && std::strcmp(v, value) == 0;
}

}  // namespace

const Environment& environment() {
  static const Environment env = [] {
    Environment e;
    e.profile = equals("MORPHTRAIN_PROFILE", "1");
    e.thin_conv = !equals("MORPHTRAIN_THIN_CONV", "0");
    e.winograd = !equals("MORPHTRAIN_WINOGRAD", "0");
    e.dumb_terminal = equals("TERM", "dumb");
    e.debug = std::getenv("MORPHTRAIN_DEBUG") != nullptr;
    return e;
  }();
  return env;
}

void apply_environment() {
  cpu::set_thin_conv_enabled(environment().thin_conv);
  cpu::set_winograd_enabled(environment().winograd);
}

}  // namespace mt::tools
