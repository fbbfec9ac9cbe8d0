// morphtrain side of bench/resnet20_vs_torch.sh: times training steps (forward, cross-entropy,
// backward, SGD momentum 0.9 + weight decay 5e-4) or inference of a zoo model on synthetic data,
// and prints one JSON line: median img/s over the timed steps.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/allocator.h"
#include "core/device_transfer.h"
#include "core/executor.h"
#include "kernels/backends.h"
#include "layers/zoo/model.h"
#include "tools/environment.h"

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time training steps or inference of a morphtrain zoo model on synthetic data"};
  std::string model_name = "resnet20", mode = "train", backend_name = "cpu";
  int64_t batch = 128, channels = 3, size = 32;
  int warmup = 5, steps = 20;
  bool no_recompute = false;
  app.add_option("--model", model_name, "zoo model")->capture_default_str();
  app.add_option("--mode", mode, "train or infer")->check(CLI::IsMember({"train", "infer"}))->capture_default_str();
  app.add_option("--backend", backend_name, "kernel backend: cpu, reference or cuda")->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--channels", channels)->capture_default_str();
  app.add_option("--size", size)->capture_default_str();
  app.add_option("--warmup", warmup)->capture_default_str();
  app.add_option("--steps", steps)->check(CLI::PositiveNumber)->capture_default_str();
  app.add_flag("--no-recompute", no_recompute,
               "keep batch-norm outputs for backward instead of recomputing them (Executor::Options::recompute)");
  CLI11_PARSE(app, argc, argv);
  mt::tools::apply_environment();

  try {
    mt::layers::ModelOptions options;
    options.in_channels = channels;
    options.image_size = size;
    mt::layers::Model model = mt::layers::build_model(model_name, options);
    auto backend = mt::make_backend(backend_name);
    mt::move_state_to(model.graph, *backend);  // a GPU backend computes on its own memory
    mt::Executor::Options exec_options;
    exec_options.profile = mt::tools::environment().profile;
    exec_options.recompute = !no_recompute;
    mt::Executor exec(model.graph, *backend, exec_options);

    mt::Rng rng(0);
    mt::Tensor images = mt::Tensor::empty({batch, channels, size, size});
    mt::Tensor labels = mt::Tensor::empty({batch}, mt::DType::i64);
    for (int64_t i = 0; i < images.numel(); ++i) images.data<float>()[i] = static_cast<float>(rng.normal());
    for (int64_t i = 0; i < batch; ++i) labels.data<int64_t>()[i] = static_cast<int64_t>(rng.next() % 10);

    std::vector<mt::Tensor> momentum;
    mt::SgdDesc sgd;
    sgd.lr = 0.01;
    sgd.momentum = 0.9;
    sgd.weight_decay = 5e-4;
    for (mt::ValueId p : model.graph.params()) {
      momentum.push_back(mt::Tensor::empty(model.graph.value(p).shape, mt::DType::f32, mt::Layout::nchw,
                                           backend->device()));
      backend->fill(momentum.back(), 0.0);
    }

    // Each step ends by reading the loss on the host, as a training loop does: on a GPU that
    // waits for the step's kernels, so the time is the step's and not its launch's.
    auto step = [&] {
      if (mode == "infer") {
        exec.forward({images, labels}, mt::Mode::eval);
      } else {
        exec.forward({images, labels}, mt::Mode::train);
        exec.backward(model.loss);
        const auto& params = model.graph.params();
        for (size_t i = 0; i < params.size(); ++i)
          backend->sgd_step(sgd, model.graph.value(params[i]).data, exec.grad(params[i]), momentum[i]);
        sgd.first_step = false;
      }
      (void)mt::to_host(exec.value(model.loss), *backend);
    };
    sgd.first_step = true;
    for (int i = 0; i < warmup; ++i) step();
    std::vector<double> times;
    for (int i = 0; i < steps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      step();
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("{\"impl\": \"morphtrain\", \"backend\": \"%s\", \"mode\": \"%s\", \"batch\": %lld, "
                "\"img_per_s\": %.1f}\n",
                backend_name.c_str(), mode.c_str(), static_cast<long long>(batch),
                static_cast<double>(batch) / median(times));
    if (exec_options.profile) {
      // Where the time and the memory go: the step's planned arena, and what the caching
      // allocator holds besides (parameters, optimizer state, oneDNN's reordered weights, scratch).
      const mt::Executor::MemoryReport plan = exec.plan_memory(batch, mode == "train");
      const mt::AllocatorStats heap = mt::allocator_for(backend->device()).stats();
      std::fprintf(stderr, "memory: arena %.1f MB (kept for backward %.1f MB), allocator in use %.1f MB, cached %.1f MB\n",
                   plan.planned_bytes / 1e6, plan.kept_bytes / 1e6, heap.bytes_in_use / 1e6, heap.bytes_cached / 1e6);
      std::fprintf(stderr, "%s%s", exec.profile_report().c_str(), exec.profile_nodes_report(20).c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_step: %s\n", e.what());
    return 1;
  }
  return 0;
}
