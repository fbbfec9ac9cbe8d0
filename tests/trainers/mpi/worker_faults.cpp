// Fault checks, driven by run_faults.sh: a rank that dies (SIGKILL at step 7) or hangs (sleeps
// in a step) must end the job non-zero in bounded time, and the last checkpoint must load.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "kernels/backends.h"
#include "tests/trainers/banded_data.h"
#include "tests/trainers/mpi/worker.h"
#include "trainers/sgd.h"
#include "trainers/trainer.h"

namespace mt::testing {

namespace {

// Does `fault` on rank `victim` after step `at`.
class FaultHook : public TrainHook {
 public:
  FaultHook(int rank, int victim, int64_t at, void (*fault)()) : hit_(rank == victim), at_(at), fault_(fault) {}
  double after_backward(Executor&, int64_t step) override {
    step_ = step + 1;
    return 0;
  }
  void after_step(Executor&, double) override {
    if (hit_ && step_ == at_) fault_();
  }

 private:
  bool hit_;
  int64_t at_, step_ = 0;
  void (*fault_)();
};

const OptimizerFactory sgd = mt::testing::sgd_factory();

layers::Model model() {
  layers::ModelOptions mo = banded_resnet_options();
  mo.seed = 5;
  return layers::build_model("resnet_cifar", mo);
}

TrainOptions long_run() {
  TrainOptions t;
  t.epochs = 100;  // far longer than the fault lets it run
  t.batch_size = 8;
  t.seed = 2;
  t.checkpoint_every_steps = 2;
  return t;
}

int train_until_fault(Communicator& comm, const std::string& dir, void (*fault)()) {
  layers::Model m = model();
  LrScheduleConfig lc;
  lc.base_lr = 0.05;
  const LrSchedule lr(lc);
  Trainer trainer(m, backend_for(Device::cpu()), sgd, lr, long_run(), Normalization{{0.3}, {0.3}});
  trainer.set_distributed(comm);
  std::optional<CheckpointManager> checkpoints;
  if (comm.is_root() && !dir.empty()) {
    checkpoints.emplace(CheckpointOptions{dir, 2, "resnet_cifar"}, std::cout);
    trainer.set_checkpoints(&*checkpoints);
  }
  FaultHook hook(comm.rank(), 1, 7, fault);
  trainer.add_hook(&hook);
  trainer.fit(banded(96, 1), nullptr);
  std::fprintf(stderr, "rank %d: the run finished although a rank failed\n", comm.rank());
  return 3;  // not reached when the launcher ends the job
}

}  // namespace

int mode_kill(Communicator& comm, const WorkerArgs& args) {
  require(comm.size() >= 2 && args.rest.size() == 1, "kill needs 2 ranks and a directory");
  return train_until_fault(comm, args.rest[0], [] { std::raise(SIGKILL); });
}

int mode_hang(Communicator& comm, const WorkerArgs&) {
  require(comm.size() >= 2, "hang needs 2 ranks");
  return train_until_fault(comm, "", [] { std::this_thread::sleep_for(std::chrono::seconds(60)); });
}

int mode_load(Communicator& comm, const WorkerArgs& args) {
  require(comm.size() == 1 && args.rest.size() == 1, "load runs alone, on a directory");
  layers::Model m = model();
  TrainerState state;
  CheckpointManager checkpoints({args.rest[0], 2, "resnet_cifar"}, std::cout);
  const CheckpointLoad loaded = checkpoints.load("auto", m.graph, nullptr, state);
  std::printf("loaded %s at step %lld\n", loaded.path.c_str(), static_cast<long long>(loaded.step));
  require(loaded.warnings.empty(), "the last checkpoint is intact (no fallback)");
  require(loaded.step >= 2 && loaded.step <= 7 && loaded.step % 2 == 0, "a checkpoint from before the fault");
  return 0;
}

}  // namespace mt::testing
