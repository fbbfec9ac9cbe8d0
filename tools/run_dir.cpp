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

std::optional<std::filesystem::path> latest_resumable_run(const std::filesystem::path& root,
                                                          const std::string& name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::optional<fs::path> newest;
  // Run directories are named by their start time, so the greatest name is the newest
  // ("20261123-101500-2" sorts after "20261123-101500", as it should).
  for (const auto& entry : fs::directory_iterator(root / name, ec)) {
    if (!fs::exists(entry.path() / "checkpoints" / "last") && !fs::exists(entry.path() / "pipeline.json")) continue;
    if (!newest || entry.path().filename() > newest->filename()) newest = entry.path();
  }
  return newest;
}

CheckpointLocation locate_checkpoint(const std::filesystem::path& path, const std::string& prefer) {
  namespace fs = std::filesystem;
  MT_CHECK(fs::exists(path), ConfigError, "checkpoint path '", path.string(), "' does not exist");
  if (fs::is_directory(path / "checkpoints"))
    return {path, path / "checkpoints", prefer};
  if (fs::exists(path / "model.safetensors")) {
    fs::path dir = fs::absolute(path).lexically_normal();
    if (!dir.has_filename()) dir = dir.parent_path();  // "ckpt-00000100/"
    const fs::path parent = dir.parent_path();
    const bool in_run = parent.filename() == "checkpoints";
    return {in_run ? parent.parent_path() : fs::path{}, parent, dir.string()};
  }
  MT_FAIL(ConfigError, "'", path.string(), "' is neither a run directory (with checkpoints/) nor a ",
          "checkpoint directory (with model.safetensors)");
}

}  // namespace mt::tools
