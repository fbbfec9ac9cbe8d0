// MorphNet's recipe: the structure from the learned weights (trimmed to the budget, expanded,
// rounded), then the slim model, fresh (from scratch) or from the learned weights (fine-tune).
#include <iostream>
#include <map>

#include "morph/reshape.h"
#include "morph/structure_file.h"
#include "tools/experiment.h"
#include "tools/morph_setup.h"
#include "tools/slim_method.h"
#include "tools/speed_guard.h"
#include "tools/structure_choice.h"

namespace mt::tools {

namespace {

namespace fs = std::filesystem;

// Rank 0 chooses the structure from its weights (the same on every rank) and writes it.
void choose_and_write(const Config& config, const layers::Model& dense, const DataSplits& data, const fs::path& run,
                      PipelineState& state) {
  const auto reg = morph::make_regularizer(dense.graph, dense.logits, regularizer_options(config));
  StructureChoiceOptions so;
  so.budget_fraction = config.settings().morph.target.fraction;
  so.expand_fraction = config.settings().pipeline.expand_to;
  so.round_to = config.settings().pipeline.round_to;
  so.width_table = width_table(config);
  so.max_flops_fraction = config.settings().pipeline.max_flops;
  StructureChoice choice = choose_structure(dense, *reg, so);
  nlohmann::json speed_check = nullptr;
  const int64_t batch = config.settings().pipeline.benchmark_batch;
  if (batch > 0 && config.settings().pipeline.never_slower) {
    // Never slower than the dense model: measured now, before the retrain spends its epochs.
    const int64_t configured = so.width_table ? kRoundByTable : so.round_to;
    std::map<int64_t, StructureChoice> tried{{configured, choice}};
    const double budget = so.budget_fraction * reg->full_cost();
    const auto candidate = [&](int64_t r) -> std::optional<morph::ChannelSelection> {
      if (!tried.count(r)) {
        so.round_to = r;
        so.width_table = nullptr;  // the guard's fallbacks are plain multiples
        tried.emplace(r, choose_structure(dense, *reg, so));
      }
      // A coarser rounding that cannot keep the budget is no candidate (the configured one is).
      if (r != configured && budget > 0 && tried.at(r).final_cost > budget) return std::nullopt;
      return tried.at(r).selection;
    };
    // Timed with fresh weights, as the report times them: the learned model's dead channels have
    // near-zero scales whose subnormal products would slow the dense model down and flatter the
    // slim one.
    const layers::Model fresh_dense = plain_model(config, data.train);
    const GuardedChoice kept =
        choose_not_slower(configured, candidate, measure_against(fresh_dense, batch, run / ".speed_check"));
    choice = tried.at(kept.round_to);
    choice.notes.insert(choice.notes.end(), kept.notes.begin(), kept.notes.end());
    speed_check = {{"round_to", kept.round_to == kRoundByTable ? nlohmann::json("table") : nlohmann::json(kept.round_to)},
                   {"batch", batch},
                   {"morphtrain_speedup", kept.speed.morphtrain}};
    if (kept.speed.onnxruntime) speed_check["onnxruntime_speedup"] = *kept.speed.onnxruntime;
    else speed_check["onnxruntime_skipped"] = kept.speed.onnxruntime_skipped;
  }
  for (const std::string& note : choice.notes) std::cout << "structure: " << note << std::endl;
  morph::write_structure((run / "structure.json").string(), choice.selection, dense);
  state.finish("reshape", {{"learned_cost", choice.learned_cost},
                           {"trimmed_cost", choice.trimmed_cost},
                           {"final_cost", choice.final_cost},
                           {"full_cost", reg->full_cost()},
                           {"multiplier", choice.multiplier},
                           {"speed_check", speed_check},
                           {"notes", choice.notes}});
}

class SlimByReshape final : public SlimMethod {
 public:
  SlimModel slim(const Config& config, layers::Model& dense, const DataSplits& data, const fs::path& run,
                 PipelineState& state, Communicator& comm) const override {
    const auto t0 = std::chrono::steady_clock::now();
    if (!state.done("reshape") && comm.is_root()) choose_and_write(config, dense, data, run, state);
    if (!state.done("reshape")) state.finish("reshape", state.json().value("reshape", nlohmann::json::object()));
    // Every rank builds the slim model from the content of rank 0's structure file.
    const morph::ChannelSelection keep =
        morph::structure_from_json(read_on_root(run / "structure.json", comm, "rerun the reshape phase"), dense);
    morph::ReshapeOptions ro;
    ro.init = config.settings().pipeline.retrain == "scratch" ? morph::ReshapeInit::fresh : morph::ReshapeInit::copy;
    ro.seed = static_cast<uint64_t>(config.settings().seed) + 1;
    morph::Reshaped reshaped = morph::reshape_model(dense, keep, ro);
    for (const std::string& line : reshaped.revived) std::cout << "reshape: " << line << std::endl;
    std::cout << "== reshape: " << dense.graph.num_parameters() << " -> "
              << reshaped.model.graph.num_parameters() << " parameters" << std::endl;
    SlimModel out;
    out.model = std::move(reshaped.model);
    out.retrain_figures = {{"reshape_seconds", seconds_since(t0)}};
    return out;
  }
};

}  // namespace

std::unique_ptr<SlimMethod> slim_by_reshape() { return std::make_unique<SlimByReshape>(); }

}  // namespace mt::tools
