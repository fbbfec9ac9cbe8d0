#pragma once
// The run directory: runs/<name>/<timestamp>/, never reused. Created only once the config and the
// data have been validated, so a run that fails early leaves nothing behind.
#include <filesystem>
#include <optional>
#include <string>

namespace mt::tools {

// Creates <root>/<name>/<YYYYmmdd-HHMMSS> (with -2, -3, ... if that exists) and returns it.
std::filesystem::path create_run_dir(const std::filesystem::path& root, const std::string& name);

// The newest run directory under <root>/<name>/ that holds a checkpoint (checkpoints/last) or a
// pipeline's state (pipeline.json), if any.
std::optional<std::filesystem::path> latest_resumable_run(const std::filesystem::path& root,
                                                          const std::string& name);

// What a user may name on the command line to mean a checkpoint: a run directory (its
// checkpoints/ then picks one: `which` is "auto" or "best") or one checkpoint directory.
struct CheckpointLocation {
  std::filesystem::path run_dir;  // the run the checkpoint belongs to (empty if it is not in one)
  std::filesystem::path checkpoints;  // the checkpoints/ folder
  std::string which;              // for CheckpointManager::load: "auto", or a checkpoint path
};
// `prefer`: "auto" (newest complete) or "best" when `path` is a run directory. Throws ConfigError
// naming the path when it is neither.
CheckpointLocation locate_checkpoint(const std::filesystem::path& path, const std::string& prefer);

}  // namespace mt::tools
