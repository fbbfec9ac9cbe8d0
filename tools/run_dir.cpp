#include "tools/run_dir.h"

#include <ctime>

#include "core/error.h"

namespace mt::tools {

std::filesystem::path create_run_dir(const std::filesystem::path& root, const std::string& name) {
  MT_CHECK(!name.empty() && name.find('/') == std::string::npos && name != "." && name != "..",
           ConfigError, "name '", name, "' must be a plain directory name");
  const std::filesystem::path parent = root / name;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  MT_CHECK(!ec, IoError, "cannot create '", parent.string(), "': ", ec.message());
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  for (int attempt = 1; attempt < 1000; ++attempt) {
    const std::filesystem::path dir =
        parent / (attempt == 1 ? std::string(stamp) : std::string(stamp) + "-" + std::to_string(attempt));
    // create_directory is atomic: false means another run took this name first.
    if (std::filesystem::create_directory(dir, ec)) return dir;
    MT_CHECK(!ec, IoError, "cannot create '", dir.string(), "': ", ec.message());
  }
  MT_FAIL(IoError, "no free run directory under '", parent.string(), "'");
}

}  // namespace mt::tools
