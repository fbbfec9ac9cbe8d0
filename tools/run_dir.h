#pragma once
// The run directory: runs/<name>/<timestamp>/, never reused. Created only once the config and the
// data have been validated, so a run that fails early leaves nothing behind.
#include <filesystem>
#include <string>

namespace mt::tools {

// Creates <root>/<name>/<YYYYmmdd-HHMMSS> (with -2, -3, ... if that exists) and returns it.
std::filesystem::path create_run_dir(const std::filesystem::path& root, const std::string& name);

}  // namespace mt::tools
