// Inference speed of a slim model against its dense model, in one run (alternating rounds), for
// a learned structure with its widths rounded to several multiples: what rounding to the
// kernels' blocking buys.
//   build/bench/bench_slim --config configs/resnet20_fmnist_morph.yaml
//       --structure runs/.../structure.json --round-to 1,8,16 [--batch 128] [--rounds 5]
//       [--fraction F] [--grow] [--exact-up-to N] [--onnx-dir DIR]
// --fraction scales the structure to F of the dense FLOPs first (e.g. a 30% version of a learned
// 50% structure); without it every rounding keeps the FLOPs the structure has.
// With --onnx-dir, the dense model and each slim one are also written there as ONNX
// (dense.onnx, slim_round<M>.onnx) for ONNX Runtime (bench/deploy_speed.sh times them there).
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "kernels/cpu/conv_thin.h"
#include "morph/cost_model.h"
#include "morph/reshape.h"
#include "morph/structure_file.h"
#include "morph/width_expansion.h"
#include "tools/environment.h"
#include "tools/experiment.h"
#include "tools/onnx_export.h"
#include "tools/pipeline_report.h"

int main(int argc, char** argv) {
  using namespace mt;
  CLI::App app{"dense vs slim inference speed for a learned structure"};
  std::string config_path, structure_path;
  std::vector<int64_t> round_to{1, 8, 16};
  int64_t batch = 128;
  int rounds = 5;
  bool profile = false, grow = false;
  double fraction = 0;
  std::string onnx_dir;
  int64_t exact_up_to = cpu::kThinOutMax;  // as the pipeline rounds
  app.add_option("--config", config_path, "the pipeline's config")->required()->check(CLI::ExistingFile);
  app.add_option("--structure", structure_path, "structure.json of a pipeline run")->required()->check(CLI::ExistingFile);
  app.add_option("--round-to", round_to, "width multiples to try")->delimiter(',');
  app.add_option("--batch", batch, "inference batch size");
  app.add_option("--rounds", rounds, "alternating timing rounds (the median is reported)");
  app.add_option("--exact-up-to", exact_up_to, "widths of at most this many channels are not rounded");
  app.add_flag("--grow", grow, "let rounding take a width past the dense one (the pipeline never does)");
  app.add_option("--fraction", fraction, "scale the structure to this fraction of the dense FLOPs")
      ->check(CLI::Range(0.01, 1.0));
  app.add_option("--onnx-dir", onnx_dir, "also export the dense and slim models as ONNX into this folder");
  app.add_flag("--profile", profile, "print per-op timings of both models (slows them a little)");
  CLI11_PARSE(app, argc, argv);
  mt::tools::apply_environment();
  try {
    const tools::Config config = tools::Config::load(config_path);
    const tools::DataSplits data = tools::load_data(config);
    layers::Model dense = layers::build_model(config.settings().model.name, tools::model_options(config, data.train));
    const morph::ChannelSelection learned = morph::read_structure(structure_path, dense);
    const morph::ChannelGroups groups(dense.graph, dense.logits);
    const morph::CostModel flops(groups, morph::CostOptions{});
    const double target = fraction > 0 ? fraction * flops.full_cost() : morph::structure_cost(flops, learned);
    if (!onnx_dir.empty()) {
      std::filesystem::create_directories(onnx_dir);
      tools::export_onnx(dense, onnx_dir + "/dense.onnx");
    }
    std::printf("%-9s %10s %12s %12s %9s  %s\n", "round_to", "FLOPs", "dense img/s", "slim img/s", "speed-up", "widths");
    for (const int64_t m : round_to) {
      morph::ChannelSelection s = learned;
      if (m > 1 || fraction > 0)
        s = morph::WidthExpander(dense, {m, exact_up_to, grow}).fit(learned, target, flops.options()).selection;
      morph::ReshapeOptions ro;
      ro.init = morph::ReshapeInit::fresh;
      layers::Model slim = morph::reshape_model(dense, s, ro).model;
      const double ratio = morph::structure_cost(flops, s) / flops.full_cost();
      std::pair<std::string, std::string> tables;
      const auto [d, sl] = tools::inference_speed(dense, slim, batch, rounds, profile ? &tables : nullptr);
      if (profile) std::cout << "dense:\n" << tables.first << "slim:\n" << tables.second;
      if (!onnx_dir.empty()) tools::export_onnx(slim, onnx_dir + "/slim_round" + std::to_string(m) + ".onnx");
      std::string widths;
      for (int64_t w : morph::WidthExpander(dense).block_widths(s)) widths += (widths.empty() ? "" : ",") + std::to_string(w);
      std::printf("%-9lld %9.1f%% %12.0f %12.0f %8.2fx  %s\n", static_cast<long long>(m), 100 * ratio, d, sl, sl / d,
                  widths.c_str());
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_slim: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
