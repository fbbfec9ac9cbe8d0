// ResRep in the training loop: masks grow on schedule, masked compactor rows decay under the
// penalty alone, the masks survive a state round trip, the structure files are written, and the
// merged slim model computes what the trained compactor model computes.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>

#include "core/random.h"
#include "kernels/backends.h"
#include "morph/resrep_merge.h"
#include "tests/temp_dir.h"
#include "trainers/resrep_hook.h"
#include "trainers/sgd.h"
#include "trainers/trainer.h"
#include "tests/trainers/banded_data.h"

using namespace mt;

namespace {

using testing::banded;

layers::Model small_resnet() {
  layers::ModelOptions o = testing::banded_resnet_options();
  o.compactors = true;
  o.seed = 3;
  return layers::build_model("resnet_cifar", o);
}

// Norm of one compactor row of group g (its first row in the group).
double row_norm(const Graph& graph, const morph::ResRep& rr, int g) {
  for (const auto& c : rr.compactors())
    for (size_t i = 0; i < c.row_group.size(); ++i) {
      if (c.row_group[i] != g) continue;
      const Tensor& q = graph.value(c.weight).data;
      const int64_t n = q.dim(0);
      double s = 0;
      for (int64_t j = 0; j < n; ++j) s += std::pow(q.data<float>()[static_cast<int64_t>(i) * n + j], 2);
      return std::sqrt(s);
    }
  return -1;
}

// Watches the training: masked rows must carry exactly the penalty after ResRep's
// after_backward, and their norms are recorded when they get masked.
struct Probe : TrainHook {
  const morph::ResRep* rr = nullptr;
  double lambda = 0, worst = 0;
  int64_t rows_checked = 0;
  std::map<int, double> norm_when_masked;

  double after_backward(Executor& exec, int64_t /*step*/) override {
    for (const auto& c : rr->compactors()) {
      const float* q = exec.graph().value(c.weight).data.data<float>();
      const float* dq = exec.param_grad(c.weight).data<float>();
      const auto n = static_cast<int64_t>(c.row_group.size());
      for (int64_t i = 0; i < n; ++i) {
        if (!rr->masked()[c.row_group[i]]) continue;
        double norm = 0;
        for (int64_t j = 0; j < n; ++j) norm += double(q[i * n + j]) * q[i * n + j];
        norm = std::sqrt(norm);
        for (int64_t j = 0; j < n; ++j)
          worst = std::max(worst, std::abs(dq[i * n + j] - lambda * q[i * n + j] / norm));
        ++rows_checked;
      }
    }
    return 0;
  }
  void after_step(Executor& exec, double /*lr*/) override {
    for (int g = 0; g < rr->groups().num_groups(); ++g)
      if (rr->masked()[g] && !norm_when_masked.count(g)) norm_when_masked[g] = row_norm(exec.graph(), *rr, g);
  }
};

}  // namespace

TEST_CASE("resrep hook: masks on schedule, masked rows decay, state and files", "[trainers][resrep]") {
  layers::Model m = small_resnet();
  morph::ResRepOptions ro;
  ro.lasso_strength = 0.05;
  ro.warmup_steps = 6;
  ro.mask_interval = 3;
  ro.mask_step = 2;
  ro.target_fraction = 0.5;
  ro.ranking = morph::ResRepRanking::norm;
  ro.backend = &backend_for(Device::cpu());  // the trainer's, as tools/ passes it
  testing::TempDir dir("resrep_hook");
  ResRepHook hook(std::make_unique<morph::ResRep>(m.graph, m.logits, ro), dir.path.string());

  LrScheduleConfig lc;
  lc.base_lr = 0.05;
  const LrSchedule lr(lc);
  TrainOptions t;
  t.epochs = 5;
  t.batch_size = 16;
  t.seed = 5;
  const OptimizerFactory sgd = mt::testing::sgd_factory();
  Probe probe;
  probe.rr = &hook.resrep();
  probe.lambda = ro.lasso_strength;
  Trainer trainer(m, backend_for(Device::cpu()), sgd, lr, t, Normalization{{0.3}, {0.3}});
  trainer.add_hook(&hook);
  trainer.add_hook(&probe);
  trainer.fit(banded(96, 1), nullptr);  // 30 steps: updates after 9, 12, ..., 30

  const morph::ResRep& rr = hook.resrep();
  CHECK(rr.num_masked() == 16);
  const nlohmann::json masks = hook.masks_json();
  REQUIRE(masks["masked_groups"].size() == 16);
  // Masked rows got the penalty alone, every step from the one after their masking.
  CHECK(probe.rows_checked > 100);
  CHECK(probe.worst < 1e-6);
  // So the rows masked after step 9 shrank over the 21 steps since (the later ones less).
  int shrunk = 0;
  for (const auto& [g, before] : probe.norm_when_masked) shrunk += row_norm(m.graph, rr, g) < before - 0.2;
  CHECK(shrunk >= 2);

  std::vector<std::pair<std::string, double>> metrics;
  hook.metrics(metrics);
  CHECK(metrics.back() == std::make_pair(std::string("masked_groups"), 16.0));

  // Masks survive a resume.
  ResRepHook resumed(std::make_unique<morph::ResRep>(m.graph, m.logits, ro));
  resumed.load_state(hook.state());
  CHECK(resumed.resrep().masked() == rr.masked());

  std::ifstream in(dir.path / "resrep_masks.json");
  const nlohmann::json file = nlohmann::json::parse(in);
  CHECK(file["masked_groups"] == masks["masked_groups"]);
  CHECK(std::filesystem::exists(dir.path / "learned_structure.json"));

  // Merge the trained model (masked rows set to zero first): the same logits, fewer FLOPs.
  rr.zero_masked_rows(m.graph);
  morph::MergeResult merged = morph::merge_compactors(m, rr.masked());
  CHECK(merged.inexact.empty());
  Rng rng(2);
  Tensor x = Tensor::empty({4, 1, 12, 12});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(rng.normal());
  auto logits = [&](layers::Model& model) {
    auto backend = make_backend("cpu");
    Executor ex(model.graph, *backend);
    ex.forward({x, Tensor::zeros({4}, DType::i64)}, Mode::eval);
    return ex.value(model.logits).clone();
  };
  CHECK(max_rel_diff(logits(merged.model), logits(m)) < 1e-4);
}
