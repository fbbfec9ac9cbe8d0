// ResNet-20 in morphtrain and in PyTorch (tests/parity/torch_resnet20_step.py) from the same
// weights and batch: one training-mode forward, the loss, the backward and one SGD step must
// agree — logits, loss, every gradient, every updated parameter and buffer.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include "core/executor.h"
#include "core/safetensors.h"
#include "core/state_dict.h"
#include "kernels/backends.h"
#include "layers/zoo/model.h"
#include "python_env.h"
#include "trainers/sgd.h"

namespace {

using namespace mt;

std::map<std::string, Tensor> with_prefix(const NamedTensors& all, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : all)
    if (name.rfind(prefix, 0) == 0) out[name.substr(prefix.size())] = t;
  return out;
}

void check_step(const std::string& backend_name, const NamedTensors& golden, double tol) {
  const auto init = with_prefix(golden, "init.");
  const auto grads = with_prefix(golden, "grad.");
  const auto updated = with_prefix(golden, "new.");
  const auto inputs = with_prefix(golden, "input.");
  const auto out = with_prefix(golden, "out.");

  layers::ModelOptions o;
  o.in_channels = inputs.at("images").dim(1);
  o.image_size = inputs.at("images").dim(2);
  layers::Model model = layers::build_model("resnet20", o);
  NamedTensors init_list(init.begin(), init.end());
  load_state_dict(model.graph, init_list);

  auto backend = make_backend(backend_name);
  Executor exec(model.graph, *backend);
  exec.forward({inputs.at("images"), inputs.at("labels")}, Mode::train);
  exec.backward(model.loss);
  CHECK(max_rel_diff(exec.value(model.logits), out.at("logits")) < tol);
  CHECK(max_rel_diff(exec.value(model.loss).reshape({}), out.at("loss")) < tol);
  for (ValueId p : model.graph.params()) {
    const std::string& name = model.graph.value(p).name;
    INFO(backend_name << " gradient of " << name);
    CHECK(max_rel_diff(exec.grad(p), grads.at(name)) < tol);
  }

  SgdOptions sgd;
  sgd.lr = 0.1;
  sgd.momentum = 0.9;
  sgd.weight_decay = 5e-4;
  Sgd optimizer(graph_params(model.graph, exec), sgd);
  optimizer.step(*backend);
  for (const auto& [name, t] : model.graph.state_dict()) {
    INFO(backend_name << " updated " << name);
    CHECK(max_rel_diff(t, updated.at(name)) < tol);
  }
}

}  // namespace

TEST_CASE("ResNet-20 forward, backward and SGD step match PyTorch", "[parity][torch]") {
  MT_REQUIRE_TORCH();
  const std::string path =
      (std::filesystem::temp_directory_path() / ("mt_parity_" + std::to_string(::getpid()) + ".safetensors")).string();
  mt::testing::run_python("tests/parity/torch_resnet20_step.py", path + " --batch 8 --channels 3 --size 32");
  const NamedTensors golden = read_safetensors(path).tensors;
  std::filesystem::remove(path);
  SECTION("cpu backend") { check_step("cpu", golden, 1e-4); }
  SECTION("reference backend") { check_step("reference", golden, 1e-4); }
}
