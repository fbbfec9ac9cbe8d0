#pragma once
// The MPI test worker (dist_worker): one executable that mpirun starts on every rank, running
// one check per mode. A failed check throws; main() prints it and ends the job non-zero.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/graph.h"
#include "trainers/communicator.h"

namespace mt::testing {

struct WorkerArgs {
  std::string mode;
  std::vector<std::string> rest;  // mode arguments (a directory, ...)
};

inline void require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("check failed: " + what);
}

// Whether `bytes` are the same on every rank (rank 0's are broadcast, each rank compares, the
// count of ranks that differ is summed).
bool same_on_all_ranks(Communicator& comm, const std::string& bytes);
// Every param (and with `buffers`, every buffer) of the graph, concatenated raw.
std::string graph_bytes(const Graph& graph, bool buffers);

int mode_comm(Communicator& comm, const WorkerArgs& args);
int mode_identical(Communicator& comm, const WorkerArgs& args);
int mode_match(Communicator& comm, const WorkerArgs& args);
int mode_overlap(Communicator& comm, const WorkerArgs& args);
int mode_resume(Communicator& comm, const WorkerArgs& args);
int mode_morph(Communicator& comm, const WorkerArgs& args);
int mode_kill(Communicator& comm, const WorkerArgs& args);
int mode_hang(Communicator& comm, const WorkerArgs& args);
int mode_load(Communicator& comm, const WorkerArgs& args);

}  // namespace mt::testing
