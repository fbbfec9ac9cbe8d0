// Data-parallel training checks: replicas stay bit-identical, N ranks x B/N match one process x
// B, and structure learning decides the same structure on every rank.
#include <cmath>
#include <cstdio>
#include <optional>

#include "kernels/backends.h"
#include "morph/network_regularizer.h"
#include "morph/structure_export.h"
#include "tests/trainers/banded_data.h"
#include "tests/trainers/mpi/worker.h"
#include "temp_dir.h"
#include "trainers/morph_hook.h"
#include "trainers/sgd.h"
#include "trainers/trainer.h"

namespace mt::testing {

namespace {

const OptimizerFactory sgd = mt::testing::sgd_factory(5e-4);

LrSchedule schedule() {
  LrScheduleConfig c;
  c.base_lr = 0.05;
  c.warmup_steps = 3;
  return LrSchedule(c);
}

TrainOptions options(int64_t batch, int64_t epochs) {
  TrainOptions t;
  t.epochs = epochs;
  t.batch_size = batch;
  t.eval_batch_size = 16;
  t.seed = 11;
  t.augment.pad = 1;
  t.augment.hflip = true;
  return t;
}

const Normalization kNorm{{0.3}, {0.3}};

std::string optimizer_bytes(const Optimizer& o) {
  std::string out;
  for (const auto& [name, t] : o.state_dict()) out += name + std::string(static_cast<const char*>(t.raw()), t.nbytes());
  return out;
}

// A convnet without batch norm: nothing differs between the ranks but the data each sees.
layers::Model plain_net() {
  layers::ModelOptions o = banded_resnet_options();
  o.seed = 3;
  o.graph_spec = YAML::Load(R"(
- {name: conv1, op: conv2d, out_channels: 6, kernel: 3, padding: 1, bias: true}
- {name: relu1, op: relu}
- {name: pool, op: maxpool2d, kernel: 2}
- {name: flatten, op: flatten}
- {name: fc1, op: linear, out_features: 16}
- {name: relu2, op: relu}
- {name: fc, op: linear}
)");
  o.graph_source = "plain_net";
  return layers::build_model("yaml", o);
}

std::string figures(const std::vector<EpochResult>& results) {
  std::string out;
  char line[160];
  for (const EpochResult& r : results) {
    std::snprintf(line, sizeof line, "%a %a %a %a %lld;", r.train.loss, r.train.accuracy, r.test.loss,
                  r.test.accuracy, static_cast<long long>(r.train.samples));
    out += line;
  }
  return out;
}

}  // namespace

int mode_identical(Communicator& comm, const WorkerArgs&) {
  const Dataset train = banded(96, 1), test = banded(40, 2);
  for (const bool sync_bn : {false, true}) {
    layers::ModelOptions mo = banded_resnet_options();
    mo.dropout = 0.2;
    mo.seed = 7 + comm.rank();  // different starting weights: fit() must start from rank 0's
    layers::Model m = layers::build_model("resnet_cifar", mo);
    const LrSchedule lr = schedule();
    Trainer trainer(m, backend_for(Device::cpu()), sgd, lr, options(8, 2), kNorm);
    DataParallelOptions dp;
    dp.bucket_bytes = 8 << 10;  // many buckets
    dp.sync_bn_stats = sync_bn;
    dp.verify_every_steps = 1;
    trainer.set_distributed(comm, dp);
    const std::vector<EpochResult> results = trainer.fit(train, &test);
    const std::string tag = sync_bn ? " (sync_bn_stats)" : "";
    require(trainer.steps() == 2 * 96 / (8 * comm.size()), "steps taken");
    require(trainer.data_parallel().num_buckets() > 1, "gradients in several buckets");
    require(same_on_all_ranks(comm, graph_bytes(m.graph, false)), "bit-identical weights" + tag);
    require(same_on_all_ranks(comm, optimizer_bytes(trainer.optimizer())), "bit-identical optimizer state" + tag);
    require(same_on_all_ranks(comm, figures(results)), "the same (global) epoch figures" + tag);
    // Each rank's BN statistics follow its own shard unless synchronised.
    require(same_on_all_ranks(comm, graph_bytes(m.graph, true)) == sync_bn, "BN buffers per rank" + tag);
    require(results.back().train.samples == 96, "the epoch tally counts every rank's samples");
  }
  return 0;
}

// Stands in for NCCL as the trainer's device communicator: forwards to the MPI one and counts the
// gradient sums that reach it, so the test sees that the buckets travel through it.
class ForwardingCommunicator final : public Communicator {
 public:
  explicit ForwardingCommunicator(Communicator& to) : to_(to) {}
  int rank() const override { return to_.rank(); }
  int size() const override { return to_.size(); }
  std::string name() const override { return "forwarding"; }
  void allreduce_sum(float* data, int64_t n) override {
    ++sums;
    to_.allreduce_sum(data, n);
  }
  void allreduce_sum(double* data, int64_t n) override {
    ++sums;
    to_.allreduce_sum(data, n);
  }
  void allreduce_sum(int64_t* data, int64_t n) override {
    ++sums;
    to_.allreduce_sum(data, n);
  }
  PendingCollective start_allreduce_sum(float* data, int64_t n) override {
    ++sums;
    return to_.start_allreduce_sum(data, n);
  }
  PendingCollective start_allreduce_sum(double* data, int64_t n) override {
    ++sums;
    return to_.start_allreduce_sum(data, n);
  }
  bool test(PendingCollective p) override { return to_.test(p); }
  void wait(PendingCollective p) override { to_.wait(p); }
  void broadcast(void* data, int64_t bytes, int root) override { to_.broadcast(data, bytes, root); }
  void barrier() override { to_.barrier(); }
  void abort(int code) override { to_.abort(code); }
  int64_t sums = 0;

 private:
  Communicator& to_;
};

// The allreduce overlapped with backward (every bucket started by the gradient-ready hook)
// leaves the same weights, bit for bit, as the allreduce after backward, on every rank; and so
// does a separate communicator for the gradients (the NCCL arrangement: MPI for the rest).
int mode_overlap(Communicator& comm, const WorkerArgs&) {
  const Dataset train = banded(96, 1);
  enum Variant { after_backward, overlapped, device_comm };
  std::string weights[3];
  for (const Variant variant : {after_backward, overlapped, device_comm}) {
    layers::ModelOptions mo = banded_resnet_options();
    mo.seed = 5;
    layers::Model m = layers::build_model("resnet_cifar", mo);
    const LrSchedule lr = schedule();
    Trainer trainer(m, backend_for(Device::cpu()), sgd, lr, options(8, 2), kNorm);
    DataParallelOptions dp;
    dp.bucket_bytes = 4 << 10;  // many buckets, most of them ready long before backward ends
    dp.overlap = variant != after_backward;
    ForwardingCommunicator gradients(comm);
    trainer.set_distributed(comm, dp, variant == device_comm ? &gradients : nullptr);
    trainer.fit(train, nullptr);
    const DataParallel& parallel = trainer.data_parallel();
    const std::string tag = " (variant " + std::to_string(variant) + ")";
    require(parallel.num_buckets() > 4, "gradients in several buckets");
    require(parallel.overlapped_buckets() == (dp.overlap ? parallel.num_buckets() : 0),
            "buckets started during backward: " + std::to_string(parallel.overlapped_buckets()) + " of " +
                std::to_string(parallel.num_buckets()) + tag);
    if (variant == device_comm)
      require(gradients.sums == trainer.steps() * parallel.num_buckets(),
              "every bucket of every step summed by the device communicator: " + std::to_string(gradients.sums));
    weights[variant] = graph_bytes(m.graph, false);
    require(same_on_all_ranks(comm, weights[variant]), "bit-identical weights" + tag);
  }
  require(weights[0] == weights[1], "overlap on and off give the same weights");
  require(weights[1] == weights[2], "a separate gradient communicator gives the same weights");
  return 0;
}

// Rank 0 alone resumes from a checkpoint it wrote mid-run; fit() hands its state to the others,
// and the run continues exactly as the uninterrupted one (weights and optimizer state equal).
int mode_resume(Communicator& comm, const WorkerArgs&) {
  const Dataset train = banded(96, 1);
  const LrSchedule lr = schedule();
  // A data-parallel run of `m` up to `max_steps` (0: 2 epochs), saving into `save` or resuming
  // (rank 0 only) from `load`.
  auto run = [&](layers::Model& m, int64_t max_steps, CheckpointManager* save, CheckpointManager* load) {
    TrainOptions t = options(8, 2);
    t.max_steps = max_steps;
    auto trainer = std::make_unique<Trainer>(m, backend_for(Device::cpu()), sgd, lr, t, kNorm);
    trainer->set_distributed(comm);
    if (save) trainer->set_checkpoints(save);
    if (load && comm.is_root()) trainer->resume(*load, "auto");
    trainer->fit(train, nullptr);
    return trainer;
  };
  layers::ModelOptions mo = banded_resnet_options();
  mo.seed = 7;
  layers::Model straight = layers::build_model("resnet_cifar", mo), first = layers::build_model("resnet_cifar", mo),
                second = layers::build_model("resnet_cifar", mo);
  const auto whole = run(straight, 0, nullptr, nullptr);
  TempDir dir("mpi_resume");
  // Only rank 0 writes checkpoints, and only rank 0 reads them.
  std::optional<CheckpointManager> checkpoints;
  if (comm.is_root()) checkpoints.emplace(CheckpointOptions{dir.path.string(), 2, "resnet_cifar"}, std::cout);
  CheckpointManager* ckpt = checkpoints ? &*checkpoints : nullptr;
  run(first, 9, ckpt, nullptr);  // stops mid-epoch 2 with a checkpoint
  const auto resumed = run(second, 0, nullptr, ckpt);
  require(resumed->steps() == whole->steps(), "the resumed run ends at the same step");
  require(graph_bytes(second.graph, false) == graph_bytes(straight.graph, false), "resumed weights == straight ones");
  require(same_on_all_ranks(comm, graph_bytes(second.graph, false)), "every rank resumed");
  require(optimizer_bytes(resumed->optimizer()) == optimizer_bytes(whole->optimizer()), "resumed optimizer state");
  return 0;
}

int mode_match(Communicator& comm, const WorkerArgs&) {
  const Dataset train = banded(96, 1), test = banded(40, 2);
  const int64_t global_batch = 16;
  require(global_batch % comm.size() == 0, "the global batch splits evenly");
  const LrSchedule lr = schedule();
  layers::Model parallel = plain_net();
  Trainer dp(parallel, backend_for(Device::cpu()), sgd, lr, options(global_batch / comm.size(), 2), kNorm);
  dp.set_distributed(comm);
  const std::vector<EpochResult> rd = dp.fit(train, &test);
  if (!comm.is_root()) return 0;

  layers::Model single = plain_net();
  Trainer one(single, backend_for(Device::cpu()), sgd, lr, options(global_batch, 2), kNorm);
  const std::vector<EpochResult> r1 = one.fit(train, &test);
  require(one.steps() == dp.steps() && one.steps() == 12, "the same number of steps");
  const auto a = parallel.graph.state_dict(), b = single.graph.state_dict();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, max_rel_diff(a[i].second, b[i].second));
  std::printf("match: max relative weight difference after %lld steps: %.3g\n", static_cast<long long>(one.steps()), worst);
  require(worst < 1e-5, "weights within 1e-5 relative (" + std::to_string(worst) + ")");
  for (size_t e = 0; e < r1.size(); ++e) {
    require(std::abs(rd[e].train.loss - r1[e].train.loss) <= 1e-5 * std::abs(r1[e].train.loss), "epoch train loss");
    require(rd[e].train.samples == r1[e].train.samples, "epoch samples");
    require(std::abs(rd[e].test.loss - r1[e].test.loss) <= 1e-5 * std::abs(r1[e].test.loss), "epoch test loss");
  }
  return 0;
}

int mode_morph(Communicator& comm, const WorkerArgs&) {
  const Dataset train = banded(96, 1);
  for (const bool budget : {false, true}) {
    layers::ModelOptions mo = banded_resnet_options();
    mo.seed = 3;
    layers::Model m = layers::build_model("resnet_cifar", mo);
    morph::RegularizerOptions ro;
    ro.backend = &backend_for(Device::cpu());  // the trainer's, as tools/ passes it
    auto regularizer = morph::make_regularizer(m.graph, m.logits, ro);
    MorphHookOptions ho;
    ho.strength = 100 / regularizer->regularization_term();  // strong: channels die within a few steps
    ho.proximal = true;
    if (budget) ho.budget = morph::BudgetOptions{0.3, ho.strength};
    MorphHook hook(std::move(regularizer), ho);
    const LrSchedule lr = schedule();
    Trainer trainer(m, backend_for(Device::cpu()), sgd, lr, options(8, 3), kNorm);
    trainer.set_distributed(comm);
    trainer.add_hook(&hook);
    trainer.fit(train, nullptr);
    const std::string tag = budget ? " (budget mode)" : "";
    const nlohmann::json structure = morph::learned_structure(hook.regularizer());
    require(same_on_all_ranks(comm, structure.dump()), "the same learned structure on every rank" + tag);
    require(same_on_all_ranks(comm, hook.state().dump()), "the same controller state" + tag);
    require(hook.regularizer().cost() < 0.9 * hook.regularizer().full_cost(), "channels died" + tag);
    if (comm.is_root())
      std::printf("morph%s: cost %.4g of %.4g, structure %s\n", tag.c_str(), hook.regularizer().cost(),
                  hook.regularizer().full_cost(), structure.dump().c_str());
  }
  return 0;
}

}  // namespace mt::testing
