#pragma once
// Checkpoints of a run, one directory each under the run's `checkpoints/`:
//
//   checkpoints/
//     ckpt-00001200/model.safetensors      the graph's state_dict under PyTorch names; metadata
//                                          "format": "pt", "step", "epoch", "model",
//                                          "test_accuracy", "data_crc32" (zlib CRC-32 of the
//                                          data buffer, 8 lowercase hex digits)
//     ckpt-00001200/optimizer.safetensors  Optimizer::state_dict(); metadata "optimizer"
//     ckpt-00001200/trainer_state.json     TrainerState plus "test_accuracy" and the checksums of
//                                          every file of the checkpoint and its own
//                                          (trainers/checkpoint_checksums.h)
//     ckpt-00001200/structure.json         optional attachments (a pruned model's structure)
//     last                                 the newest complete checkpoint's directory name
//     best                                 the one with the best test accuracy
//
// A checkpoint appears whole or not at all (Lightning #688/#19970, detectron2's pointer file): it
// is written into `ckpt-<step>.tmp/`, every file fsynced, the directory renamed and its parent
// fsynced; only then are `last` and `best` rewritten (temp + rename) and old checkpoints pruned.
// A crash at any point leaves `last` naming a complete checkpoint and at worst a `*.tmp`
// directory, which the next writing CheckpointManager removes. A reader (evaluation, a report, a
// resume's source) changes nothing: a `*.tmp` it sees may be a live run's save in progress.
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "core/graph.h"
#include "trainers/optimizer.h"
#include "trainers/trainer_state.h"

namespace mt {

// Who opens a checkpoints folder: the run that owns it (it creates the folder, cleans up after
// interrupted saves, saves and prunes), or anyone else, who only loads and never writes.
enum class CheckpointAccess { write, read };

struct CheckpointOptions {
  std::string dir;         // created if absent (write access); must exist for read access
  int keep_last = 3;       // newest complete checkpoints kept (>= 1), besides the best one
  std::string model_name;  // recorded in model.safetensors' metadata
  CheckpointAccess access = CheckpointAccess::write;
  // Files saved beside the tensors in every checkpoint, (name, content), under the same
  // checksums: what a checkpoint needs to stand on its own, such as a pruned model's
  // structure.json, so it evaluates after the file the config names is gone.
  std::vector<std::pair<std::string, std::string>> attachments = {};
};

struct CheckpointLoad {
  std::string path;  // the checkpoint directory that was loaded
  int64_t step = 0;
  double test_accuracy = 0;
  // With "auto": every newer checkpoint skipped on the way, with the reason it was unusable.
  std::vector<std::string> warnings;
};

class CheckpointManager {
 public:
  // With write access: creates dir() and removes leftover `*.tmp` entries of interrupted saves,
  // logging each to `log`. With read access: touches nothing; throws IoError when dir() is not a
  // directory.
  explicit CheckpointManager(CheckpointOptions options, std::ostream& log = std::cerr);

  // Writes ckpt-<step>/ for state.step and returns its path. Throws DataError naming the tensor
  // when a weight, buffer or optimizer state holds NaN or Inf (nothing is written), and IoError
  // naming the file when a write fails (no directory is left behind; `last`, `best` and the
  // previous checkpoints are untouched).
  std::string save(const Graph& graph, const Optimizer& optimizer, const TrainerState& state,
                   double test_accuracy);

  // `which`: "auto" (the checkpoint `last` names, falling back to older complete ones with a
  // warning when it is unusable), a checkpoint directory, or a directory name under dir().
  // All or nothing: on any error the graph, optimizer and state are unchanged. A checkpoint is
  // rejected when a file is missing, truncated or malformed, the CRC does not match, or the
  // tensors do not fit the graph (PyTorch-style missing/unexpected/size-mismatch report).
  // `optimizer` may be null (evaluation, fine-tuning with a fresh optimizer).
  CheckpointLoad load(const std::string& which, Graph& graph, Optimizer* optimizer,
                      TrainerState& state);

  // Complete checkpoint directories (paths), oldest first.
  std::vector<std::string> list() const;
  // The directory names the pointer files hold; nullopt when a pointer is absent.
  std::optional<std::string> last() const;
  std::optional<std::string> best() const;
  const std::string& dir() const { return options_.dir; }
  // The checkpoint directory load(which) tries first ("auto": the one `last` names, else the
  // newest complete one); nullopt when there is none.
  std::optional<std::string> resolve(const std::string& which) const;

 private:
  void publish(const std::string& name, double test_accuracy);
  void prune();
  std::optional<std::string> read_pointer(const char* file) const;
  CheckpointLoad load_auto(Graph& graph, Optimizer* optimizer, TrainerState& state);

  CheckpointOptions options_;
  std::ostream& log_;
};

// "ckpt-00001200"; -1 when `name` is not a complete checkpoint's name.
std::string checkpoint_name(int64_t step);
int64_t checkpoint_step(const std::string& name);

// An attachment (CheckpointOptions::attachments) of the checkpoint directory `path`, checked
// against its checksum; nullopt when the checkpoint has none of that name. IoError naming the
// file when it or trainer_state.json is damaged.
std::optional<std::string> read_checkpoint_attachment(const std::string& path, const std::string& name);

// Loads one checkpoint directory, all or nothing (see CheckpointManager::load).
CheckpointLoad load_checkpoint(const std::string& path, Graph& graph, Optimizer* optimizer,
                               TrainerState& state);

}  // namespace mt
