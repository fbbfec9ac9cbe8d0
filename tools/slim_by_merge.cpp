// ResRep's Rep: the compactor model merged into a plain slim model (lossless), which is the result
// (`finetune`: ResRep's recipe, no further training) or is retrained from fresh weights
// (`scratch`).
#include <iostream>

#include "morph/reshape.h"
#include "morph/resrep_merge.h"
#include "morph/structure_file.h"
#include "tools/experiment.h"
#include "tools/slim_method.h"
#include "tools/training_phase.h"

namespace mt::tools {

namespace {

namespace fs = std::filesystem;

std::vector<bool> masked_groups(const fs::path& run, Communicator& comm) {
  const nlohmann::json masks = read_on_root(run / "learn" / "resrep_masks.json", comm, "rerun the learn phase");
  std::vector<bool> masked(masks.at("num_groups").get<size_t>(), false);
  for (int g : masks.at("masked_groups")) masked.at(static_cast<size_t>(g)) = true;
  return masked;
}

class SlimByMerge final : public SlimMethod {
 public:
  SlimModel slim(const Config& config, layers::Model& dense, const DataSplits& data, const fs::path& run,
                 PipelineState& state, Communicator& comm) const override {
    const bool root = comm.is_root();
    const std::vector<bool> masked = masked_groups(run, comm);
    morph::MergeResult merged = morph::merge_compactors(dense, masked);
    for (const std::string& line : merged.revived) std::cout << "merge: " << line << std::endl;
    for (const std::string& line : merged.inexact) std::cout << "merge: inexact: " << line << std::endl;
    auto plain = std::make_unique<layers::Model>(plain_model(config, data.train));
    if (root) morph::write_structure((run / "structure.json").string(), merged.selection, *plain);
    int64_t num_masked = 0;
    for (bool m : masked) num_masked += m;
    std::cout << "== merge: " << dense.graph.num_parameters() << " parameters with compactors -> "
              << merged.model.graph.num_parameters() << " (" << num_masked << " channel groups masked)" << std::endl;
    const double accuracy = root ? evaluate_model(config, merged.model, data).accuracy : 0.0;
    std::cout << "merged model: test accuracy " << 100 * accuracy << "% (no fine-tuning)" << std::endl;
    if (!state.done("reshape")) state.finish("reshape", {{"merged_test_accuracy", accuracy}});

    SlimModel out;
    if (config.settings().pipeline.retrain == "scratch") {
      morph::ReshapeOptions ro;
      ro.init = morph::ReshapeInit::fresh;
      ro.seed = static_cast<uint64_t>(config.settings().seed) + 1;
      out.model = morph::reshape_model(*plain, merged.selection, ro).model;
    } else {
      out.model = std::move(merged.model);
      out.retrain = false;
      out.retrain_figures = {{"seconds", 0.0}, {"test_accuracy", accuracy}, {"steps", 0}, {"merged_only", true}};
    }
    out.reference = std::move(plain);
    return out;
  }
};

}  // namespace

std::unique_ptr<SlimMethod> slim_by_merge() { return std::make_unique<SlimByMerge>(); }

}  // namespace mt::tools
