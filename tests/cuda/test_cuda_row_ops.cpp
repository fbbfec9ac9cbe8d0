// The CUDA backend's row ops (core/backend.h: row_stats, row_update) against the reference on the
// odd shapes of tests/kernels/row_op_cases.h, and the morph terms built on them with the params on
// the GPU against the same terms on the host: GroupRegularizer (gamma, group lasso, FiGS gates:
// evaluate, backprop, the proximal step) and ResRep (group norms, the penalty gradient, zeroing
// masked rows).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/device_transfer.h"
#include "kernels/backends.h"
#include "layers/zoo/model.h"
#include "morph/channel_groups.h"
#include "morph/group_regularizer.h"
#include "morph/resrep.h"
#include "tests/cuda/gpu_compare.h"
#include "tests/kernels/row_op_cases.h"

namespace mt::gputest {
namespace {

Case row_ops_case(const test::RowOpShape& s) {
  // [3, 0]: every row is empty, so the reference's sums are rightly all zero.
  const bool may_vanish = s.shape.numel() == 0;
  auto inputs = [shape = s.shape](Rng& rng, Layout) { return test::row_op_inputs(shape, rng); };
  auto run = [may_vanish](KernelBackend& be, Inputs& in) {
    Outputs out;
    for (auto& [name, value] : test::run_row_ops(be, in)) out.push_back({name, value, kTol, may_vanish});
    return out;
  };
  return {"row ops " + s.name, false, inputs, run};
}

// ---- the morph terms on the GPU. morph runs the row ops of GPU tensors on the backend it is given
// (morph/row_kernels.h), here backend_for(device), not gpu(): every GPU copy below goes through
// that backend too, so it is ordered with the row ops on one stream.
KernelBackend& morph_gpu() { return backend_for(Device::cuda(0)); }

Tensor host_copy(const Tensor& t) { return to_host(t, morph_gpu()); }

void check_near(const std::string& what, const Tensor& gpu_value, const Tensor& host_value) {
  const double err = max_rel_diff(host_copy(gpu_value), host_value);
  INFO(what << ": rel diff " << err);
  CHECK(err < kTol);
}

// A narrow f32 ResNet-20 (4 to 16 channels): gated (BN scales, conv filters and gates are each
// method's sources), or with ResRep's compactors.
layers::Model small_resnet(bool gating, bool compactors) {
  layers::ModelOptions o;
  o.gating = gating;
  o.compactors = compactors;
  o.width_multiplier = 0.25;
  o.image_size = 16;
  return layers::build_model("resnet20", o);
}

Tensor& param(layers::Model& m, const std::string& name) { return m.graph.value(m.graph.at(name)).data; }

// In layer1.0.conv1's own groups (4 channels, one source of each kind): a zero BN scale (sign 0),
// a zero filter (rms 0), a closed gate; the channels evaluate() reports dead under each method.
void plant_edges(layers::Model& m) {
  param(m, "layer1.0.bn1.weight").data<float>()[1] = 0;
  Tensor& w = param(m, "layer1.0.conv1.weight");  // [4, 4, 3, 3]
  const int64_t n = w.numel() / w.dim(0);
  for (int64_t i = 0; i < n; ++i) w.data<float>()[2 * n + i] = 0;
  param(m, "layer1.0.conv1.gate.logits").data<float>()[0] = -2;
}

// The same model twice: one stays on the host, the other moves to the GPU.
struct ModelPair {
  layers::Model host = small_resnet(true, false), gpu = small_resnet(true, false);
  ModelPair() {
    plant_edges(host);
    plant_edges(gpu);
    move_state_to(gpu.graph, morph_gpu());
  }
  // The GPU model's parameters against the host model's, by name.
  void check_params(const std::vector<ValueId>& params) {
    for (ValueId p : params) {
      const std::string& name = host.graph.value(p).name;
      check_near(name, param(gpu, name), host.graph.value(p).data);
    }
  }
};

int dead_groups(const morph::GroupState& s) {
  int dead = 0;
  for (bool a : s.alive) dead += !a;
  return dead;
}

// The first compactor with a masked row, a kept row of a prunable group and a third unmasked row,
// and those rows.
struct CompactorRows {
  const morph::CompactorInfo* compactor = nullptr;
  int64_t masked = -1, kept = -1, other = -1;  // other: unmasked, not `kept`
};

CompactorRows pick_rows(const morph::ResRep& rr, const std::vector<bool>& masked) {
  for (const morph::CompactorInfo& c : rr.compactors()) {
    CompactorRows r{&c};
    for (int64_t i = 0; i < static_cast<int64_t>(c.row_group.size()); ++i) {
      const int g = c.row_group[i];
      const bool is_masked = g != morph::ChannelGroups::kNone && masked[g];
      if (is_masked && r.masked < 0) r.masked = i;
      else if (!is_masked && g != morph::ChannelGroups::kNone && rr.prunable(g) && r.kept < 0) r.kept = i;
      else if (!is_masked && r.other < 0) r.other = i;
    }
    if (r.masked >= 0 && r.kept >= 0 && r.other >= 0) return r;
  }
  FAIL("no compactor has a masked, a kept and a third unmasked row");
  return {};
}

}  // namespace

TEST_CASE("cuda row ops match the reference on odd shapes", "[cuda][row_ops]") {
  std::vector<Case> cases;
  for (const test::RowOpShape& s : test::row_op_shapes()) cases.push_back(row_ops_case(s));
  check_cases(cases);
}

TEST_CASE("morph group regularizers compute on the GPU what they compute on the host",
          "[cuda][morph][row_ops]") {
  const morph::Method method =
      GENERATE(morph::Method::gamma, morph::Method::group_lasso, morph::Method::logistic_sigmoid);
  INFO(morph::method_name(method));
  ModelPair models;
  const Graph& host_graph = models.host.graph;
  const morph::ChannelGroups host_groups(host_graph, models.host.logits);
  const morph::ChannelGroups gpu_groups(models.gpu.graph, models.gpu.logits);
  const double l1 = method == morph::Method::group_lasso ? 0.25 : 0.0;
  const double threshold = morph::default_threshold(method);
  const morph::GroupRegularizer host_reg(host_groups, method, threshold, l1);
  const morph::GroupRegularizer gpu_reg(gpu_groups, method, threshold, l1, &morph_gpu());
  const int groups = host_groups.num_groups();
  REQUIRE(gpu_groups.num_groups() == groups);
  REQUIRE(gpu_reg.params() == host_reg.params());  // one build, one order of values

  SECTION("evaluate: regularization and alive vectors") {
    const morph::GroupState want = host_reg.evaluate(), got = gpu_reg.evaluate();
    CHECK(dead_groups(want) > 0);  // the planted channels: alive vectors that can differ
    CHECK(got.alive == want.alive);
    CHECK(got.regularized == want.regularized);
    for (int g = 0; g < groups; ++g) CHECK(got.reg[g] == Approx(want.reg[g]).epsilon(1e-6).margin(1e-12));
  }

  SECTION("backprop: the term's gradient added to the parameters' gradients") {
    std::vector<double> dterm(groups);
    for (int g = 0; g < groups; ++g) dterm[g] = 2.0 + (g % 3);
    ::mt::Rng rng(5);
    std::map<ValueId, Tensor> host_grads, gpu_grads, before;
    for (ValueId p : host_reg.params()) {
      Tensor g = Tensor::empty(host_graph.value(p).shape, DType::f32);
      for (int64_t i = 0; i < g.numel(); ++i) g.data<float>()[i] = static_cast<float>(rng.normal());
      before[p] = g.clone();
      gpu_grads[p] = to_device(g, morph_gpu());
      host_grads[p] = g;
    }
    host_reg.backprop(dterm, 0.7, [&](ValueId p) { return &host_grads.at(p); });
    gpu_reg.backprop(dterm, 0.7, [&](ValueId p) { return &gpu_grads.at(p); });
    double moved = 0;
    for (ValueId p : host_reg.params()) {
      check_near(host_graph.value(p).name + " gradient", gpu_grads.at(p), host_grads.at(p));
      moved = std::max(moved, max_rel_diff(host_grads.at(p), before.at(p)));
    }
    CHECK(moved > 1e-3);  // the term reached the gradients
  }

  if (method != morph::Method::logistic_sigmoid) {
    SECTION("proximal step: sources clipped to a common level, weak groups killed") {
      // lambda = step x dterm: small pulls that clip some groups, and one that kills
      // layer1.0.conv1's channel 3 for sure (one source: it dies once lambda >= n x v).
      const morph::GroupState start = host_reg.evaluate();
      std::vector<double> dterm(groups);
      for (int g = 0; g < groups; ++g) dterm[g] = (method == morph::Method::gamma ? 0.1 : 0.5) * (g % 4);
      const int doomed = host_groups.group_of(host_graph.at("layer1.0.conv1"), 3);
      REQUIRE(start.alive[doomed]);
      const Tensor& filters = host_graph.value(host_graph.at("layer1.0.conv1.weight")).data;
      const double n = method == morph::Method::gamma ? 1.0 : static_cast<double>(filters.numel() / filters.dim(0));
      dterm[doomed] = 2 * n * start.reg[doomed];
      const int dead_before = dead_groups(host_reg.evaluate());
      host_reg.proximal_step(dterm, 1.0);
      gpu_reg.proximal_step(dterm, 1.0);
      models.check_params(host_reg.params());
      CHECK(dead_groups(host_reg.evaluate()) > dead_before);
    }
  }
}

TEST_CASE("resrep's norms, penalty and masks compute on the GPU what they compute on the host",
          "[cuda][morph][resrep][row_ops]") {
  layers::Model host = small_resnet(false, true), gpu = small_resnet(false, true);
  morph::ResRepOptions ro;
  ro.lasso_strength = 0.01;
  ro.masked_lasso_strength = 0.05;
  morph::ResRep host_rr(host.graph, host.logits, ro);
  std::vector<bool> masked(host_rr.groups().num_groups(), false);
  int prunable = 0;  // every other prunable group
  for (size_t g = 0; g < masked.size(); ++g)
    if (host_rr.prunable(static_cast<int>(g))) masked[g] = prunable++ % 2 == 1;
  host_rr.set_masked(masked);
  const CompactorRows rows = pick_rows(host_rr, masked);
  const std::string target = host.graph.value(rows.compactor->weight).name;
  const int64_t n = static_cast<int64_t>(rows.compactor->row_group.size());

  // Identical compactors in both models: identity plus noise, and one zero row (norm 0: no
  // penalty) in a kept group.
  for (layers::Model* m : {&host, &gpu}) {
    ::mt::Rng rng(11);
    for (const morph::CompactorInfo& c : host_rr.compactors()) {
      float* q = param(*m, host.graph.value(c.weight).name).data<float>();
      const int64_t k = static_cast<int64_t>(c.row_group.size());
      for (int64_t i = 0; i < k * k; ++i)
        q[i] = static_cast<float>((i / k == i % k ? 1.0 : 0.0) + rng.uniform(-0.3, 0.3));
    }
    float* q = param(*m, target).data<float>();
    for (int64_t j = 0; j < n; ++j) q[rows.kept * n + j] = 0;
  }
  move_state_to(gpu.graph, morph_gpu());
  morph::ResRepOptions gpu_ro = ro;
  gpu_ro.backend = &morph_gpu();
  morph::ResRep gpu_rr(gpu.graph, gpu.logits, gpu_ro);
  gpu_rr.set_masked(masked);
  REQUIRE(gpu_rr.compactors().size() == host_rr.compactors().size());

  SECTION("group norms") {
    const std::vector<double> want = host_rr.group_norms(), got = gpu_rr.group_norms();
    REQUIRE(got.size() == want.size());
    for (size_t g = 0; g < want.size(); ++g) CHECK(got[g] == Approx(want[g]).epsilon(1e-6).margin(1e-12));
  }

  SECTION("penalty gradient: masked rows overwritten even where they held NaN") {
    ::mt::Rng rng(13);
    std::map<std::string, Tensor> host_grads, gpu_grads;
    for (const morph::CompactorInfo& c : host_rr.compactors()) {
      const std::string& name = host.graph.value(c.weight).name;
      Tensor g = Tensor::empty(host.graph.value(c.weight).shape, DType::f32);
      for (int64_t i = 0; i < g.numel(); ++i) g.data<float>()[i] = static_cast<float>(rng.normal());
      if (name == target)
        for (int64_t j = 0; j < n; ++j) g.data<float>()[rows.masked * n + j] = std::numeric_limits<float>::quiet_NaN();
      gpu_grads[name] = to_device(g, morph_gpu());
      host_grads[name] = g;
    }
    const double want = host_rr.add_penalty_gradient(
        [&](ValueId p) { return &host_grads.at(host.graph.value(p).name); });
    const double got = gpu_rr.add_penalty_gradient(
        [&](ValueId p) { return &gpu_grads.at(gpu.graph.value(p).name); });
    CHECK(want > 0);
    CHECK(got == Approx(want).epsilon(1e-6));
    for (const auto& [name, g] : host_grads) check_near(name + " gradient", gpu_grads.at(name), g);
    const Tensor grad = host_copy(gpu_grads.at(target));
    for (int64_t j = 0; j < n; ++j) REQUIRE(std::isfinite(grad.data<float>()[rows.masked * n + j]));
  }

  SECTION("zero_masked_rows") {
    host_rr.zero_masked_rows(host.graph);
    gpu_rr.zero_masked_rows(gpu.graph);
    for (const morph::CompactorInfo& c : host_rr.compactors()) {
      const std::string& name = host.graph.value(c.weight).name;
      check_near(name, param(gpu, name), host.graph.value(c.weight).data);
    }
    const Tensor q = host_copy(param(gpu, target));
    for (int64_t j = 0; j < n; ++j) CHECK(q.data<float>()[rows.masked * n + j] == 0);
    CHECK(q.data<float>()[rows.other * n + rows.other] != 0);  // 1 + noise: an unmasked row stays
  }
}

}  // namespace mt::gputest
