// dist_worker MODE [ARGS]: the MPI tests' worker (tests/trainers/mpi/worker.h). Under mpirun
// every rank runs the same mode; exit 0 when every check passed on this rank.
//   comm       allreduce / broadcast / barrier values
//   identical  data-parallel training leaves bit-identical weights on every rank
//   match      N ranks x batch B/N match 1 process x batch B (a model without batch norm)
//   overlap    the allreduce overlapped with backward leaves the weights it leaves after backward
//   morph      structure learning decides the same structure on every rank
//   resume     rank 0 resumes mid-run; every rank continues exactly as the uninterrupted run
//   kill DIR   trains with checkpoints in DIR; rank 1 dies at step 7 (run_faults.sh checks)
//   hang       rank 1 stops answering; the watchdog ends the job (run_faults.sh checks)
//   load DIR   one process: the last checkpoint in DIR loads
#include <cstdio>
#include <exception>
#include <map>

#include "tests/trainers/mpi/worker.h"

int main(int argc, char** argv) {
  using namespace mt::testing;
  if (argc < 2) {
    std::fprintf(stderr, "usage: dist_worker MODE [ARGS]\n");
    return 2;
  }
  WorkerArgs args{argv[1], {argv + 2, argv + argc}};
  const std::map<std::string, int (*)(mt::Communicator&, const WorkerArgs&)> modes = {
      {"comm", mode_comm},       {"identical", mode_identical}, {"match", mode_match}, {"overlap", mode_overlap},
      {"morph", mode_morph},     {"resume", mode_resume},       {"kill", mode_kill},   {"hang", mode_hang},
      {"load", mode_load}};
  const auto it = modes.find(args.mode);
  if (it == modes.end()) {
    std::fprintf(stderr, "dist_worker: unknown mode '%s'\n", args.mode.c_str());
    return 2;
  }
  std::unique_ptr<mt::Communicator> comm;
  try {
    mt::CommunicatorOptions options;
    options.timeout_s = args.mode == "hang" ? 2 : 60;
    comm = mt::make_communicator(options);
    const int code = it->second(*comm, args);
    if (code == 0) std::printf("dist_worker %s: rank %d of %d passed\n", args.mode.c_str(), comm->rank(), comm->size());
    return code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dist_worker %s: rank %d: %s\n", args.mode.c_str(), comm ? comm->rank() : -1, e.what());
    if (comm && comm->size() > 1) comm->abort(1);
    return 1;
  }
}
