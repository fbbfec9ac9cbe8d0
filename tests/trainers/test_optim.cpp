// Optimizers against PyTorch's update formulas. The literal trajectories below were computed by
// hand from torch.optim's documented algorithms and cross-checked with torch 1.13 (float64):
//   p = Parameter([1.0]); grads 1.0, 0.5, -1.0; lr 0.1.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <memory>

#include "core/ops/batchnorm2d.h"
#include "core/safetensors.h"
#include "kernels/backends.h"
#include "layers/builder.h"
#include "trainers/adamw.h"
#include "trainers/sgd.h"

using namespace mt;

namespace {

const std::vector<double> kGrads = {1.0, 0.5, -1.0};

// One scalar param (shape [1]) stepped with kGrads; returns the value after each step.
template <typename MakeOpt>
std::vector<double> scalar_trajectory(KernelBackend& backend, DType dtype, MakeOpt make_opt) {
  Tensor p = Tensor::empty({1}, dtype);
  Tensor g = Tensor::empty({1}, dtype);
  p.fill(1.0);
  std::unique_ptr<Optimizer> opt = make_opt(std::vector<ParamRef>{{"w", &p, &g}});
  std::vector<double> out;
  for (double gv : kGrads) {
    g.fill(gv);
    opt->step(backend);
    out.push_back(p.at({0}));
  }
  return out;
}

void check_trajectory(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("step " << i + 1);
    CHECK(got[i] == Approx(want[i]).epsilon(tol).margin(tol));
  }
}

std::unique_ptr<Optimizer> sgd(std::vector<ParamRef> ps, SgdOptions o, std::vector<ParamGroup> g = {}) {
  return std::make_unique<Sgd>(std::move(ps), o, std::move(g));
}
std::unique_ptr<Optimizer> adamw(std::vector<ParamRef> ps, AdamWOptions o,
                                 std::vector<ParamGroup> g = {}) {
  return std::make_unique<AdamW>(std::move(ps), o, std::move(g));
}

// The cpu backend while its optimizer kernels are still being written: skip with a reason.
std::unique_ptr<KernelBackend> cpu_backend_if_ready() {
  auto cpu = make_backend("cpu");
  try {
    Tensor p = Tensor::zeros({1}), g = Tensor::zeros({1}), m = Tensor::zeros({1});
    Tensor v = Tensor::zeros({1});
    cpu->sgd_step(SgdDesc{}, p, g, m);
    cpu->adamw_step(AdamWDesc{}, p, g, m, v);
  } catch (const BackendError& e) {
    WARN("cpu backend optimizer kernels not usable, cpu cases skipped: " << e.what());
    return nullptr;
  }
  return cpu;
}

struct BackendCase {
  std::unique_ptr<KernelBackend> backend;
  DType dtype;
  double tol;
};

std::vector<BackendCase> backends() {
  std::vector<BackendCase> out;
  out.push_back({make_backend("reference"), DType::f64, 1e-12});
  if (auto cpu = cpu_backend_if_ready()) out.push_back({std::move(cpu), DType::f32, 2e-6});
  return out;
}

}  // namespace

TEST_CASE("sgd follows torch.optim.SGD step by step", "[optim][reference][cpu]") {
  for (auto& c : backends()) {
    INFO("backend " << c.backend->name());
    auto run = [&](SgdOptions o) {
      return scalar_trajectory(*c.backend, c.dtype, [&](auto ps) { return sgd(ps, o); });
    };
    SgdOptions plain{0.1};
    check_trajectory(run(plain), {0.9, 0.85, 0.95}, c.tol);
    SgdOptions mom{0.1, 0.9};
    check_trajectory(run(mom), {0.9, 0.76, 0.734}, c.tol);
    SgdOptions nesterov{0.1, 0.9, 0, 0, true};
    check_trajectory(run(nesterov), {0.81, 0.634, 0.7106}, c.tol);
    SgdOptions wd{0.1, 0.9, 0, 0.1};
    check_trajectory(run(wd), {0.89, 0.7321, 0.682669}, c.tol);
    SgdOptions damp{0.1, 0.9, 0.5};
    check_trajectory(run(damp), {0.9, 0.785, 0.7315}, c.tol);
    SgdOptions decoupled{0.1, 0.9, 0, 0.1, false, true};
    check_trajectory(run(decoupled), {0.89, 0.7411, 0.707689}, c.tol);
  }
}

TEST_CASE("adamw follows torch.optim.AdamW step by step", "[optim][reference][cpu]") {
  for (auto& c : backends()) {
    INFO("backend " << c.backend->name());
    auto run = [&](AdamWOptions o) {
      return scalar_trajectory(*c.backend, c.dtype, [&](auto ps) { return adamw(ps, o); });
    };
    const double tol = std::max(c.tol, 1e-11);
    check_trajectory(run({0.1, 0.9, 0.999, 1e-8, 0.1}),
                     {0.890000001, 0.7878820382881611, 0.7689249109009901}, tol);
    check_trajectory(run({0.1, 0.9, 0.999, 1e-8, 0.0}),
                     {0.900000001, 0.8067820382981611, 0.7957037312938717}, tol);
  }
}

TEST_CASE("a no-decay param group leaves biases undecayed", "[optim][reference]") {
  auto backend = make_backend("reference");
  Tensor w = Tensor::empty({1}, DType::f64), b = Tensor::empty({1}, DType::f64);
  Tensor gw = Tensor::empty({1}, DType::f64), gb = Tensor::empty({1}, DType::f64);
  std::vector<ParamRef> ps = {{"conv.weight", &w, &gw}, {"conv.bias", &b, &gb}};
  SECTION("sgd") {
    w.fill(1.0);
    b.fill(1.0);
    Sgd opt(ps, {0.1, 0.9, 0, 0.1}, {no_weight_decay(name_matches({"*.bias"}))});
    CHECK(opt.weight_decay_of(0) == 0.1);
    CHECK(opt.weight_decay_of(1) == 0.0);
    std::vector<double> tw, tb;
    for (double g : kGrads) {
      gw.fill(g);
      gb.fill(g);
      opt.step(*backend);
      tw.push_back(w.at({0}));
      tb.push_back(b.at({0}));
    }
    check_trajectory(tw, {0.89, 0.7321, 0.682669}, 1e-12);  // decayed
    check_trajectory(tb, {0.9, 0.76, 0.734}, 1e-12);        // momentum only
  }
  SECTION("adamw, with an lr scale") {
    w.fill(1.0);
    b.fill(1.0);
    ParamGroup half{name_matches({"conv.weight"}), std::nullopt, 0.5};
    AdamW opt(ps, {0.2, 0.9, 0.999, 1e-8, 0.05}, {half, no_weight_decay(name_matches({"*.bias"}))});
    CHECK(opt.lr_scale_of(0) == 0.5);
    CHECK(opt.weight_decay_of(0) == 0.05);  // the group keeps the optimizer's decay
    std::vector<double> tw, tb;
    for (double g : kGrads) {
      gw.fill(g);
      gb.fill(g);
      opt.set_lr(0.2);
      opt.step(*backend);
      tw.push_back(w.at({0}));
      tb.push_back(b.at({0}));
    }
    // weight: lr 0.2 * 0.5 = 0.1 with lr*wd = 0.005; bias: lr 0.2, no decay.
    const double w1 = 1.0 * (1 - 0.1 * 0.05) - 0.1 / (1 + 1e-8);
    CHECK(tw[0] == Approx(w1).epsilon(1e-12));
    CHECK(tb[0] == Approx(1.0 - 0.2 / (1 + 1e-8)).epsilon(1e-12));
  }
}

TEST_CASE("bias_and_norm_params finds batchnorm params by graph structure", "[optim]") {
  Graph g;
  const ValueId x = g.add_input("x", {2, 3, 3});
  const ValueId scale = g.add_param("stem.norm_scale", Tensor::zeros({2}));  // no ".weight" naming
  const ValueId shift = g.add_param("stem.norm_shift", Tensor::zeros({2}));
  const ValueId mean = g.add_buffer("stem.running_mean", Tensor::zeros({2}));
  const ValueId var = g.add_buffer("stem.running_var", Tensor::zeros({2}));
  const ValueId count = g.add_buffer("stem.num_batches_tracked", Tensor::zeros({}, DType::i64));
  g.add("stem", std::make_shared<BatchNorm2dOp>(BatchNormDesc{}), {x, scale, shift, mean, var, count});
  const ParamPredicate no_decay = bias_and_norm_params(g);
  CHECK(no_decay("stem.norm_scale"));
  CHECK(no_decay("stem.norm_shift"));
  CHECK(no_decay("fc.bias"));
  CHECK_FALSE(no_decay("conv1.weight"));
  CHECK_FALSE(no_decay("fc.bias_like.weight"));
}

TEST_CASE("glob patterns for param groups", "[optim]") {
  CHECK(glob_match("*.bias", "layer1.0.conv1.bias"));
  CHECK_FALSE(glob_match("*.bias", "layer1.0.conv1.weight"));
  CHECK(glob_match("layer?.*bn*", "layer2.0.bn1.weight"));
  CHECK_FALSE(glob_match("layer?.*bn*", "layer10.0.bn1.weight"));
  CHECK(glob_match("*", ""));
  CHECK(glob_match("a*b*c", "aXXbYYc"));
  CHECK_FALSE(glob_match("a*b*c", "aXXbYY"));
}

namespace {
// PyTorch's algorithms on one double, written out independently of the kernels.
struct TorchSgd {
  double momentum, dampening, wd;
  bool nesterov;
  double buf = 0;
  int t = 0;
  double step(double p, double g, double lr) {
    g += wd * p;
    buf = t++ == 0 ? g : momentum * buf + (1 - dampening) * g;
    return p - lr * (nesterov ? g + momentum * buf : buf);
  }
};
struct TorchAdamW {
  double b1, b2, eps, wd;
  double m = 0, v = 0;
  int t = 0;
  double step(double p, double g, double lr) {
    ++t;
    p *= 1 - lr * wd;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const double denom = std::sqrt(v) / std::sqrt(1 - std::pow(b2, t)) + eps;
    return p - lr / (1 - std::pow(b1, t)) * m / denom;
  }
};
}  // namespace

TEST_CASE("multi-element trajectories with a changing lr match scalar simulations",
          "[optim][reference][cpu]") {
  for (auto& c : backends()) {
    INFO("backend " << c.backend->name());
    const int n = 7;
    Tensor p = Tensor::empty({n}, c.dtype), g = Tensor::empty({n}, c.dtype);
    Tensor init = Tensor::empty({n}, DType::f64);
    for (int i = 0; i < n; ++i) init.data<double>()[i] = 0.3 * i - 1.0;
    auto run = [&](Optimizer& opt, auto make_sim) {
      p.copy_from(init);
      std::vector<decltype(make_sim())> sims(n, make_sim());
      std::vector<double> expect(init.data<double>(), init.data<double>() + n);
      for (int t = 0; t < 5; ++t) {
        const double lr = 0.05 * (t + 1);
        Tensor gd = Tensor::empty({n}, DType::f64);
        for (int i = 0; i < n; ++i) {
          gd.data<double>()[i] = std::sin(1.3 * i + 0.7 * t);
          expect[i] = sims[i].step(expect[i], gd.data<double>()[i], lr);
        }
        g.copy_from(gd);
        opt.set_lr(lr);
        opt.step(*c.backend);
      }
      for (int i = 0; i < n; ++i) CHECK(p.at({i}) == Approx(expect[i]).epsilon(c.tol * 10).margin(c.tol * 10));
    };
    Sgd s({{"p", &p, &g}}, {0.1, 0.8, 0, 0.01, true});
    run(s, [] { return TorchSgd{0.8, 0, 0.01, true}; });
    AdamW a({{"p", &p, &g}}, {0.1, 0.85, 0.99, 1e-6, 0.02});
    run(a, [] { return TorchAdamW{0.85, 0.99, 1e-6, 0.02}; });
    CHECK(a.steps() == 5);
  }
}

TEST_CASE("optimizer state is allocated on the first step only", "[optim][reference]") {
  auto backend = make_backend("reference");
  Tensor p = Tensor::zeros({64, 3, 3, 3}), g = Tensor::zeros({64, 3, 3, 3});
  g.fill(0.25);
  AdamW opt({{"conv.weight", &p, &g}}, {});
  CHECK(opt.state_of(0).empty());
  opt.step(*backend);
  REQUIRE(opt.state_of(0).size() == 2);
  const void* m = opt.state_of(0)[0].raw();
  const void* v = opt.state_of(0)[1].raw();
  const AllocatorStats before = allocator_for(Device::cpu()).stats();
  for (int i = 0; i < 4; ++i) opt.step(*backend);
  const AllocatorStats after = allocator_for(Device::cpu()).stats();
  CHECK(opt.state_of(0)[0].raw() == m);
  CHECK(opt.state_of(0)[1].raw() == v);
  CHECK(after.system_allocs == before.system_allocs);
  CHECK(after.cache_hits == before.cache_hits);
}

TEST_CASE("params without a gradient are skipped", "[optim][reference]") {
  auto backend = make_backend("reference");
  Tensor p = Tensor::zeros({3}, DType::f64), q = Tensor::zeros({3}, DType::f64);
  Tensor gp = Tensor::zeros({3}, DType::f64);
  p.fill(1.0);
  q.fill(1.0);
  gp.fill(1.0);
  Sgd opt({{"p", &p, &gp}, {"q", &q, nullptr}}, {0.1, 0.9});
  opt.step(*backend);
  CHECK(p.at({0}) == Approx(0.9));
  CHECK(q.at({0}) == 1.0);
  CHECK(opt.state_of(1).empty());
  const NamedTensors state = opt.state_dict();
  for (const auto& [name, t] : state) CHECK(name.rfind("q.", 0) != 0);
}

TEST_CASE("a gradient of the wrong shape names the param", "[optim][reference]") {
  auto backend = make_backend("reference");
  Tensor p = Tensor::zeros({3}), g = Tensor::zeros({4});
  Sgd opt({{"fc.weight", &p, &g}}, {});
  CHECK_THROWS_WITH(opt.step(*backend), Catch::Contains("fc.weight") && Catch::Contains("[4]"));
}

TEST_CASE("graph_params binds a graph's params to the executor's gradients", "[optim][reference]") {
  auto backend = make_backend("reference");
  Graph graph;
  layers::ModelBuilder b(graph, /*seed=*/3, DType::f64);
  const ValueId x = b.input("x", {4});
  const ValueId labels = b.labels();
  const ValueId logits = b.linear("fc", x, 3);
  const ValueId loss = b.cross_entropy("loss", logits, labels);
  Executor ex(graph, *backend);
  Tensor xs = Tensor::empty({2, 4}, DType::f64);
  for (int i = 0; i < 8; ++i) xs.data<double>()[i] = 0.1 * i - 0.3;
  Tensor ys = Tensor::empty({2}, DType::i64);
  ys.data<int64_t>()[0] = 2;
  ys.data<int64_t>()[1] = 0;
  ex.forward({xs, ys}, Mode::train);
  ex.backward(loss);

  std::vector<ParamRef> params = graph_params(graph, ex);
  REQUIRE(params.size() == 2);
  CHECK(params[0].name == "fc.weight");
  CHECK(params[1].name == "fc.bias");
  std::vector<Tensor> expected;
  for (const ParamRef& p : params) {
    Tensor e = p.param->clone();
    for (int64_t i = 0; i < e.numel(); ++i) e.data<double>()[i] -= 0.5 * p.grad->data<double>()[i];
    expected.push_back(e);
  }
  Sgd opt(params, {0.5});
  opt.step(*backend);
  CHECK(max_rel_diff(graph.value(graph.at("fc.weight")).data, expected[0]) < 1e-15);
  CHECK(max_rel_diff(graph.value(graph.at("fc.bias")).data, expected[1]) < 1e-15);
  // The gradient pointers survive a re-plan for another batch size.
  Tensor xs3 = Tensor::zeros({3, 4}, DType::f64), ys3 = Tensor::zeros({3}, DType::i64);
  ex.forward({xs3, ys3}, Mode::train);
  ex.backward(loss);
  CHECK(params[0].grad == &ex.grad(graph.at("fc.weight")));
  CHECK(params[0].grad->defined());
}
