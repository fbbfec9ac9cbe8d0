// Optimizer trajectories against torch.optim itself (Debian's python3-torch), run through
// torch_optim_reference.py beside this file. Skipped with a warning where torch is missing.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "kernels/backends.h"
#include "trainers/adamw.h"
#include "trainers/sgd.h"

using namespace mt;
using Json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Runs the script on `cases`; nullopt (after a WARN) when torch is unavailable.
std::optional<Json> torch_trajectories(const Json& cases) {
  const fs::path script = fs::path(__FILE__).parent_path() / "torch_optim_reference.py";
  if (!fs::exists("/usr/bin/python3") || !fs::exists(script)) {
    WARN("skipped: /usr/bin/python3 or " << script << " missing");
    return std::nullopt;
  }
  const fs::path input = fs::temp_directory_path() / ("mt_torch_optim_" + std::to_string(::getpid()) + ".json");
  std::ofstream(input) << cases.dump();
  const std::string cmd = "/usr/bin/python3 '" + script.string() + "' '" + input.string() + "' 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = ::pclose(pipe);
  fs::remove(input);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
    WARN("skipped: python3 cannot import torch");
    return std::nullopt;
  }
  INFO("script output: " << out);
  REQUIRE(status == 0);
  return Json::parse(out);
}

struct Params {
  Tensor w = Tensor::empty({5}, DType::f64), b = Tensor::empty({3}, DType::f64);
  Tensor gw = Tensor::empty({5}, DType::f64), gb = Tensor::empty({3}, DType::f64);
  Params() {
    for (int i = 0; i < 5; ++i) w.data<double>()[i] = 0.3 * i - 1.0;
    for (int i = 0; i < 3; ++i) b.data<double>()[i] = 0.3 * i - 1.0;
  }
  std::vector<ParamRef> refs() { return {{"fc.weight", &w, &gw}, {"fc.bias", &b, &gb}}; }
  void grads(int t) {
    for (int i = 0; i < 5; ++i) gw.data<double>()[i] = std::sin(1.3 * i + 0.7 * t);
    for (int i = 0; i < 3; ++i) gb.data<double>()[i] = std::sin(1.3 * i + 0.7 * t + 0.4);
  }
};

std::unique_ptr<Optimizer> make(const Json& c, Params& p) {
  std::vector<ParamGroup> groups;
  if (c.value("no_decay_bias", false)) groups.push_back(no_weight_decay(name_matches({"*.bias"})));
  if (c["kind"] == "sgd")
    return std::make_unique<Sgd>(
        p.refs(),
        SgdOptions{0.1, c["momentum"], c["dampening"], c["weight_decay"], c["nesterov"], false},
        groups);
  return std::make_unique<AdamW>(
      p.refs(), AdamWOptions{0.1, c["beta1"], c["beta2"], c["eps"], c["weight_decay"]}, groups);
}

Json with(Json base, const Json& changes) {
  base.update(changes);
  return base;
}

}  // namespace

TEST_CASE("sgd and adamw trajectories match torch.optim", "[optim][reference][torch]") {
  const Json sgd = {{"kind", "sgd"}, {"steps", 6}, {"momentum", 0.9}, {"dampening", 0.0},
                    {"weight_decay", 0.01}, {"nesterov", false}};
  Json cases = Json::array();
  cases.push_back(sgd);
  cases.push_back(with(sgd, {{"nesterov", true}, {"no_decay_bias", true}}));
  cases.push_back(with(sgd, {{"dampening", 0.3}, {"momentum", 0.5}}));
  const Json adamw = {{"kind", "adamw"}, {"steps", 6}, {"beta1", 0.8}, {"beta2", 0.95},
                      {"eps", 1e-6}, {"weight_decay", 0.1}};
  cases.push_back(adamw);
  cases.push_back(with(adamw, {{"no_decay_bias", true}}));
  const std::optional<Json> torch = torch_trajectories(cases);
  if (!torch) return;
  REQUIRE(torch->size() == cases.size());

  auto backend = make_backend("reference");
  for (size_t k = 0; k < cases.size(); ++k) {
    INFO("case " << cases[k].dump());
    Params p;
    auto opt = make(cases[k], p);
    for (int t = 0; t < cases[k]["steps"].get<int>(); ++t) {
      p.grads(t);
      opt->set_lr(0.05 * (t + 1));
      opt->step(*backend);
    }
    for (int i = 0; i < 5; ++i) CHECK(p.w.at({i}) == Approx((*torch)[k]["w"][i].get<double>()).epsilon(1e-12));
    for (int i = 0; i < 3; ++i) CHECK(p.b.at({i}) == Approx((*torch)[k]["b"][i].get<double>()).epsilon(1e-12));
  }
}
