#pragma once
#include <string>

namespace mt::tools {

// docs/config.md: every config key with its type, default and meaning, from the schema. A test
// keeps the committed file equal to this text.
std::string config_reference_markdown();

}  // namespace mt::tools
