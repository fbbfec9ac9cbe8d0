// Optimizer state (save, load, resume) and hyper-parameter validation.
#include <catch2/catch.hpp>

#include <filesystem>
#include <unistd.h>

#include "core/safetensors.h"
#include "kernels/backends.h"
#include "trainers/adamw.h"
#include "trainers/sgd.h"
#include "temp_dir.h"

using namespace mt;

namespace {

using testing::TempDir;

// Two params and their gradients; each step feeds gradients that depend on the step.
struct Model {
  Tensor w = Tensor::empty({2, 3}, DType::f64), b = Tensor::empty({3}, DType::f64);
  Tensor gw = Tensor::empty({2, 3}, DType::f64), gb = Tensor::empty({3}, DType::f64);
  Model() {
    w.fill(0.5);
    b.fill(-0.25);
  }
  std::vector<ParamRef> params() { return {{"fc.weight", &w, &gw}, {"fc.bias", &b, &gb}}; }
  void set_grads(int t) {
    for (int i = 0; i < 6; ++i) gw.data<double>()[i] = std::cos(0.4 * i + t);
    for (int i = 0; i < 3; ++i) gb.data<double>()[i] = std::sin(0.9 * i - t);
  }
};

NamedTensors deep_copy(const NamedTensors& state) {
  NamedTensors out;
  for (const auto& [name, t] : state) out.emplace_back(name, t.clone());
  return out;
}

template <typename Opt, typename Options>
void check_resume_is_exact(const Options& options) {
  auto backend = make_backend("reference");
  TempDir dir;
  const std::string file = (dir.path / "optim.safetensors").string();
  Model a;
  Opt opt_a(a.params(), options, {no_weight_decay(name_matches({"*.bias"}))});
  for (int t = 0; t < 3; ++t) {
    a.set_grads(t);
    opt_a.step(*backend);
  }
  write_safetensors(file, opt_a.state_dict(), {{"optimizer", std::string(opt_a.name())}});

  Model b;  // the resumed run: weights copied, optimizer state from the file
  b.w.copy_from(a.w);
  b.b.copy_from(a.b);
  Opt opt_b(b.params(), options, {no_weight_decay(name_matches({"*.bias"}))});
  const SafetensorsContent loaded = read_safetensors(file);
  CHECK(loaded.metadata.at("optimizer") == opt_a.name());
  opt_b.load_state_dict(loaded.tensors);
  CHECK(opt_b.steps() == 3);
  for (int t = 3; t < 6; ++t) {
    a.set_grads(t);
    b.set_grads(t);
    opt_a.step(*backend);
    opt_b.step(*backend);
  }
  CHECK(max_rel_diff(b.w, a.w) == 0);
  CHECK(max_rel_diff(b.b, a.b) == 0);
}

}  // namespace

TEST_CASE("optimizer state round-trips through safetensors and resumes bit-exactly",
          "[optim][reference]") {
  SECTION("sgd") { check_resume_is_exact<Sgd>(SgdOptions{0.1, 0.9, 0, 1e-3, true}); }
  SECTION("adamw") { check_resume_is_exact<AdamW>(AdamWOptions{0.01}); }
}

TEST_CASE("state_dict names follow PyTorch's state keys", "[optim][reference]") {
  auto backend = make_backend("reference");
  Model m;
  m.set_grads(0);
  Sgd sgd(m.params(), {0.1, 0.9});
  CHECK(sgd.state_dict().size() == 1);  // only "step" before the first step
  sgd.step(*backend);
  std::vector<std::string> names;
  for (const auto& [name, t] : sgd.state_dict()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"step", "fc.weight.step", "fc.weight.momentum_buffer",
                                          "fc.bias.step", "fc.bias.momentum_buffer"});
  AdamW adam(m.params(), {});
  adam.step(*backend);
  const NamedTensors state = adam.state_dict();
  REQUIRE(state.size() == 7);
  CHECK(state[2].first == "fc.weight.exp_avg");
  CHECK(state[3].first == "fc.weight.exp_avg_sq");
  CHECK(state[3].second.shape() == Shape{2, 3});
  CHECK(state[1].second.at({}) == 1);
}

TEST_CASE("load_state_dict lists every mismatch and changes nothing", "[optim][reference]") {
  auto backend = make_backend("reference");
  Model m;
  m.set_grads(0);
  Sgd sgd(m.params(), {0.1, 0.9});
  sgd.step(*backend);
  const NamedTensors sgd_state = deep_copy(sgd.state_dict());

  AdamW adam(m.params(), {});
  adam.step(*backend);
  const NamedTensors before = deep_copy(adam.state_dict());
  try {
    adam.load_state_dict(sgd_state);
    FAIL("loading SGD state into AdamW must fail");
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("missing key 'fc.weight.exp_avg'"));
    CHECK_THAT(msg, Catch::Contains("missing key 'fc.bias.exp_avg_sq'"));
    CHECK_THAT(msg, Catch::Contains("unexpected key 'fc.weight.momentum_buffer'"));
  }
  const NamedTensors after = adam.state_dict();
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) CHECK(max_rel_diff(after[i].second, before[i].second) == 0);

  NamedTensors wrong = deep_copy(sgd_state);
  wrong[2].second = Tensor::zeros({3, 2}, DType::f64);  // fc.weight.momentum_buffer transposed
  CHECK_THROWS_WITH(sgd.load_state_dict(wrong),
                    Catch::Contains("size mismatch for 'fc.weight.momentum_buffer'") &&
                        Catch::Contains("[3, 2]"));
  NamedTensors no_step(sgd_state.begin() + 1, sgd_state.end());
  CHECK_THROWS_WITH(sgd.load_state_dict(no_step), Catch::Contains("'step'"));
}

TEST_CASE("loading an empty state resets to a fresh optimizer", "[optim][reference]") {
  auto backend = make_backend("reference");
  Model m;
  m.set_grads(0);
  Sgd sgd(m.params(), {0.1, 0.9});
  sgd.step(*backend);
  NamedTensors fresh;
  fresh.emplace_back("step", Tensor::zeros({}, DType::i64));
  sgd.load_state_dict(fresh);
  CHECK(sgd.steps() == 0);
  CHECK(sgd.state_of(0).empty());
  CHECK(sgd.state_dict().size() == 1);
}

TEST_CASE("hyper-parameters are validated with the field named", "[optim]") {
  std::vector<ParamRef> none;
  auto sgd_error = [&](SgdOptions o) {
    try {
      Sgd s(none, o);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(sgd_error({-0.1}), Catch::Contains("[sgd] lr = -0.1"));
  CHECK_THAT(sgd_error({0.1, 1.0}), Catch::Contains("momentum = 1 must be in [0, 1)"));
  CHECK_THAT(sgd_error({0.1, -0.5}), Catch::Contains("momentum"));
  CHECK_THAT(sgd_error({0.1, 0.9, 1.5}), Catch::Contains("dampening"));
  CHECK_THAT(sgd_error({0.1, 0.9, 0, -1}), Catch::Contains("weight_decay"));
  CHECK_THAT(sgd_error({0.1, 0, 0, 0, true}), Catch::Contains("nesterov"));
  CHECK_THAT(sgd_error({0.1, 0.9, 0.1, 0, true}), Catch::Contains("dampening = 0.1"));
  CHECK_THAT(sgd_error({NAN}), Catch::Contains("lr"));
  CHECK(sgd_error({0.1, 0.9, 0, 0, true}) == "no error");

  auto adamw_error = [&](AdamWOptions o) {
    try {
      AdamW a(none, o);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(adamw_error({1e-3, 1.0}), Catch::Contains("beta1 = 1 must be in [0, 1)"));
  CHECK_THAT(adamw_error({1e-3, 0.9, -0.1}), Catch::Contains("beta2"));
  CHECK_THAT(adamw_error({1e-3, 0.9, 0.999, 0}), Catch::Contains("eps = 0 must be > 0"));
  CHECK_THAT(adamw_error({1e-3, 0.9, 0.999, 1e-8, -1}), Catch::Contains("weight_decay"));
  CHECK(adamw_error({}) == "no error");

  Tensor p = Tensor::zeros({1});
  Sgd s({{"p", &p, nullptr}}, {});
  CHECK_THROWS_AS(s.set_lr(-1), ConfigError);
  CHECK_THROWS_WITH(Sgd({{"p", &p, nullptr}, {"p", &p, nullptr}}, {}), Catch::Contains("twice"));
  ParamGroup bad{name_matches({"p"}), -0.5};
  CHECK_THROWS_WITH(Sgd({{"p", &p, nullptr}}, {}, {bad}),
                    Catch::Contains("param_groups[0].weight_decay"));
}
