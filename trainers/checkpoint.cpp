// CheckpointManager: the atomic save, the pointer files and retention. Loading lives in
// checkpoint_load.cpp.
#include "trainers/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/device_transfer.h"
#include "core/json_read.h"
#include "core/safetensors.h"
#include "trainers/checkpoint_checksums.h"
#include "trainers/checkpoint_detail.h"

namespace mt {

namespace fs = std::filesystem;
using namespace checkpoint_detail;

namespace {

// The safetensors writer's data order (descending dtype rank, then name), so the CRC we record
// is the CRC of the file's data buffer, which anyone can check with zlib.
uint32_t data_crc(const NamedTensors& tensors) {
  auto rank = [](DType t) { return t == DType::i64 ? 2 : t == DType::f64 ? 1 : 0; };
  std::vector<const std::pair<std::string, Tensor>*> order;
  for (const auto& entry : tensors) order.push_back(&entry);
  std::stable_sort(order.begin(), order.end(), [&](const auto* a, const auto* b) {
    const int ra = rank(a->second.dtype()), rb = rank(b->second.dtype());
    return ra != rb ? ra > rb : a->first < b->first;
  });
  std::vector<const Tensor*> ordered;
  for (const auto* entry : order) ordered.push_back(&entry->second);
  return crc32_of(ordered);
}

template <typename T>
void check_finite_values(const std::string& what, const std::string& name, const Tensor& t) {
  const T* p = t.data<T>();
  int64_t bad = 0;
  double first = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (std::isfinite(p[i])) continue;
    if (bad++ == 0) first = static_cast<double>(p[i]);
  }
  MT_CHECK(bad == 0, DataError, "[checkpoint] refusing to save non-finite values: ", what, " '",
           name, "' ", t.shape().str(), " has ", bad, " non-finite value(s) (first: ", first, ")");
}

void check_finite(const std::string& what, const NamedTensors& tensors) {
  for (const auto& [name, t] : tensors) {
    if (t.dtype() == DType::f32) check_finite_values<float>(what, name, t);
    if (t.dtype() == DType::f64) check_finite_values<double>(what, name, t);
  }
}

// A rename is durable only once its directory entry is; some file systems cannot fsync a
// directory (EINVAL) and there it is as durable as it gets.
void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  MT_CHECK(fd >= 0, IoError, "[checkpoint] cannot open directory '", dir,
           "' to fsync it: ", std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  MT_CHECK(rc == 0 || err == EINVAL || err == EROFS, IoError, "[checkpoint] fsync of directory '",
           dir, "' failed: ", std::strerror(err));
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
  MT_CHECK(::rename(from.c_str(), to.c_str()) == 0, IoError, "[checkpoint] cannot rename '",
           from.string(), "' to '", to.string(), "': ", std::strerror(errno));
}

// Written after the tensors' files, whose checksums it records (checkpoint_checksums.h).
void write_state_json(const fs::path& dir, const TrainerState& state, double test_accuracy,
                      std::vector<std::string> files) {
  nlohmann::json j = to_json(state);
  j["test_accuracy"] = test_accuracy;
  files.insert(files.begin(), {kModelFile, kOptimizerFile});
  seal_state_json(j, dir.string(), files);
  write_file_atomically((dir / kStateFile).string(), j.dump(2) + "\n");
}

// The three files and the attachments, each fsynced by AtomicFile, into a fresh directory.
void write_files(const fs::path& dir, const NamedTensors& model, const NamedTensors& optim,
                 const Optimizer& optimizer, const TrainerState& state, double test_accuracy,
                 const CheckpointOptions& options) {
  const std::string& model_name = options.model_name;
  char accuracy[32];
  std::snprintf(accuracy, sizeof accuracy, "%.17g", test_accuracy);
  write_safetensors((dir / kModelFile).string(), model,
                    {{"format", "pt"},
                     {"step", std::to_string(state.step)},
                     {"epoch", std::to_string(state.epoch)},
                     {"model", model_name},
                     {"test_accuracy", accuracy},
                     {"data_crc32", hex32(data_crc(model))}});
  write_safetensors((dir / kOptimizerFile).string(), optim,
                    {{"optimizer", std::string(optimizer.name())},
                     {"step", std::to_string(state.step)}});
  std::vector<std::string> attached;
  for (const auto& [name, content] : options.attachments) {
    write_file_atomically((dir / name).string(), content);
    attached.push_back(name);
  }
  write_state_json(dir, state, test_accuracy, attached);
}

bool is_leftover(const std::string& name) {
  const bool tmp_suffix = name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0;
  // AtomicFile's own temporaries for the pointer files: ".last.tmp.<pid>.<n>".
  const bool pointer_temp = name.rfind(".last.tmp.", 0) == 0 || name.rfind(".best.tmp.", 0) == 0;
  return tmp_suffix || pointer_temp;
}

double recorded_accuracy(const fs::path& ckpt) {
  const std::optional<std::string> text = read_text_file((ckpt / kStateFile).string());
  std::string why;
  const std::optional<nlohmann::json> parsed = text ? try_parse_json(*text, why) : std::nullopt;
  if (!parsed) return -INFINITY;
  const nlohmann::json& j = *parsed;
  if (!j.is_object() || !j.contains("test_accuracy") || !j["test_accuracy"].is_number())
    return -INFINITY;
  return j["test_accuracy"].get<double>();
}

}  // namespace

std::string checkpoint_name(int64_t step) {
  MT_CHECK(step >= 0, ConfigError, "[checkpoint] step ", step, " must be >= 0");
  char name[32];
  std::snprintf(name, sizeof name, "ckpt-%08lld", static_cast<long long>(step));
  return name;
}

int64_t checkpoint_step(const std::string& name) {
  if (name.rfind("ckpt-", 0) != 0 || name.size() < 13 || name.size() > 23) return -1;
  int64_t step = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

CheckpointManager::CheckpointManager(CheckpointOptions options, std::ostream& log)
    : options_(std::move(options)), log_(log) {
  MT_CHECK(!options_.dir.empty(), ConfigError, "[checkpoint] empty checkpoint directory");
  MT_CHECK(options_.keep_last >= 1, ConfigError, "[checkpoint] keep_last = ", options_.keep_last,
           " must be >= 1");
  for (const auto& [name, content] : options_.attachments)
    MT_CHECK(!name.empty() && name[0] != '.' && name.find('/') == std::string::npos && name != kModelFile &&
                 name != kOptimizerFile && name != kStateFile,
             ConfigError, "[checkpoint] '", name, "' cannot be a checkpoint attachment's name");
  if (options_.access == CheckpointAccess::read) {
    MT_CHECK(fs::is_directory(options_.dir), IoError, "[checkpoint] '", options_.dir, "' is not a directory");
    return;
  }
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  MT_CHECK(!ec && fs::is_directory(options_.dir), IoError, "[checkpoint] cannot create directory '",
           options_.dir, "': ", ec.message());
  for (const auto& entry : fs::directory_iterator(options_.dir)) {
    const std::string name = entry.path().filename().string();
    if (!is_leftover(name)) continue;
    fs::remove_all(entry.path(), ec);
    log_ << "[checkpoint] removed '" << entry.path().string() << "', left by an interrupted save"
         << (ec ? " (failed: " + ec.message() + ")" : std::string()) << "\n";
  }
}

std::string CheckpointManager::save(const Graph& graph, const Optimizer& optimizer,
                                    const TrainerState& state, double test_accuracy) {
  MT_CHECK(options_.access == CheckpointAccess::write, IoError, "[checkpoint] '", options_.dir,
           "' was opened for reading; only the run that owns it saves there");
  const std::string name = checkpoint_name(state.step);
  // Host copies where the weights live on a GPU (on the CPU: the live tensors, no copy).
  const NamedTensors model = on_host(graph.state_dict());
  const NamedTensors optim = on_host(optimizer.state_dict());
  check_finite("model tensor", model);
  check_finite("optimizer state", optim);

  const fs::path root(options_.dir), final_dir = root / name, tmp = root / (name + ".tmp");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  MT_CHECK(fs::create_directory(tmp, ec) && !ec, IoError, "[checkpoint] cannot create '",
           tmp.string(), "': ", ec.message());
  try {
    write_files(tmp, model, optim, optimizer, state, test_accuracy, options_);
    // Saving a step again (a run resumed from an older checkpoint) replaces the old directory;
    // it is moved aside first because rename() cannot replace a non-empty directory. A crash
    // in between leaves `last` naming a missing directory: "auto" then falls back to the
    // newest complete one and the aside copy is removed as a leftover.
    const fs::path old = root / (name + ".replaced.tmp");
    if (fs::exists(final_dir)) rename_or_throw(final_dir, old);
    rename_or_throw(tmp, final_dir);
    fsync_dir(options_.dir);
    fs::remove_all(old, ec);
  } catch (const IoError& e) {
    fs::remove_all(tmp, ec);
    const std::optional<std::string> previous = last();
    MT_FAIL(IoError, "[checkpoint] saving step ", state.step, " failed; ",
            previous ? "'last' still names " + *previous : std::string("no checkpoint was saved"),
            ": ", e.what());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  publish(name, test_accuracy);
  prune();
  return final_dir.string();
}

void CheckpointManager::publish(const std::string& name, double test_accuracy) {
  const fs::path root(options_.dir);
  write_file_atomically((root / "last").string(), name + "\n");
  const std::optional<std::string> best_name = best();
  const bool better = !best_name || *best_name == name || !fs::is_directory(root / *best_name) ||
                      test_accuracy > recorded_accuracy(root / *best_name);
  if (better) write_file_atomically((root / "best").string(), name + "\n");
}

void CheckpointManager::prune() {
  const std::vector<std::string> all = list();
  const std::optional<std::string> keep_best = best(), keep_last = last();
  const size_t keep = static_cast<size_t>(options_.keep_last);
  for (size_t i = 0; i + keep < all.size(); ++i) {
    const std::string name = fs::path(all[i]).filename().string();
    if (name == keep_best || name == keep_last) continue;
    // Renamed out of the checkpoint names first (one atomic step), then removed: a kill during
    // the removal leaves a `*.tmp` leftover that the next writer clears, never a half-deleted
    // directory under a name that `auto` would try.
    const fs::path doomed = fs::path(options_.dir) / (name + ".deleted.tmp");
    std::error_code ec;
    fs::remove_all(doomed, ec);
    fs::rename(all[i], doomed, ec);
    if (!ec) fs::remove_all(doomed, ec);
    // The new checkpoint is already complete: a failed clean-up costs disk space, not data.
    if (ec) log_ << "[checkpoint] warning: cannot remove old '" << all[i] << "': " << ec.message() << "\n";
  }
}

std::vector<std::string> CheckpointManager::list() const {
  std::vector<std::pair<int64_t, std::string>> found;
  for (const auto& entry : fs::directory_iterator(options_.dir)) {
    const int64_t step = checkpoint_step(entry.path().filename().string());
    if (step >= 0 && entry.is_directory()) found.emplace_back(step, entry.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (auto& [step, path] : found) paths.push_back(std::move(path));
  return paths;
}

std::optional<std::string> CheckpointManager::read_pointer(const char* file) const {
  std::ifstream in(fs::path(options_.dir) / file);
  std::string name;
  if (!in || !std::getline(in, name)) return std::nullopt;
  while (!name.empty() && (name.back() == '\r' || name.back() == ' ')) name.pop_back();
  if (checkpoint_step(name) < 0) return std::nullopt;
  return name;
}

std::optional<std::string> CheckpointManager::resolve(const std::string& which) const {
  if (which != "auto") {
    const fs::path under = fs::path(options_.dir) / which;
    return !fs::exists(which) && fs::exists(under) ? under.string() : which;
  }
  if (const auto pointed = last(); pointed && fs::is_directory(fs::path(options_.dir) / *pointed))
    return (fs::path(options_.dir) / *pointed).string();
  const std::vector<std::string> all = list();
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::optional<std::string> CheckpointManager::last() const { return read_pointer("last"); }
std::optional<std::string> CheckpointManager::best() const { return read_pointer("best"); }

}  // namespace mt
