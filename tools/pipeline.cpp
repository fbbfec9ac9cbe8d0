#include "tools/pipeline.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "core/atomic_file.h"
#include "core/json_read.h"
#include "core/safetensors.h"
#include "core/state_dict.h"
#include "morph/reshape.h"
#include "morph/resrep_merge.h"
#include "morph/structure_file.h"
#include "tools/experiment.h"
#include "tools/morph_setup.h"
#include "tools/pipeline_report.h"
#include "tools/run_dir.h"
#include "tools/run_lock.h"
#include "tools/structure_choice.h"
#include "tools/training_phase.h"
#include "trainers/checkpoint.h"

namespace mt::tools {

namespace fs = std::filesystem;

namespace {

// pipeline.json: the phases done and their figures, rewritten atomically after each phase.
// Rank 0 reads and writes it; the other ranks get its content, so all skip the same phases.
class PipelineState {
 public:
  PipelineState(fs::path path, Communicator& comm) : path_(std::move(path)), writer_(comm.is_root()) {
    if (writer_) read();
    state_ = nlohmann::json::parse(broadcast_string(comm, state_.dump()));
  }
  bool done(const std::string& phase) const { return figure(phase, "done", false); }
  // A figure a phase recorded (e.g. seconds spent before a resume), or `fallback`.
  template <typename T>
  T figure(const std::string& phase, const std::string& key, T fallback) const {
    return state_.contains(phase) && state_[phase].is_object() ? state_[phase].value(key, fallback) : fallback;
  }
  const nlohmann::json& json() const { return state_; }
  void finish(const std::string& phase, nlohmann::json figures) {
    figures["done"] = true;
    state_[phase] = std::move(figures);
    if (writer_) write_file_atomically(path_.string(), state_.dump(2) + "\n");
  }

 private:
  void read() {
    if (!fs::exists(path_)) {  // written at once, so that `--resume auto` finds a run cut short
      write_file_atomically(path_.string(), "{}\n");
      return;
    }
    const std::optional<std::string> text = read_text_file(path_.string());
    MT_CHECK(text, IoError, "cannot read '", path_.string(), "'");
    std::string why;
    std::optional<nlohmann::json> parsed = try_parse_json(*text, why);
    MT_CHECK(parsed, IoError, "'", path_.string(), "' is not valid JSON (", why, "); remove it to restart the pipeline");
    state_ = std::move(*parsed);
  }

  fs::path path_;
  bool writer_;
  nlohmann::json state_ = nlohmann::json::object();
};

// A file rank 0 wrote (the structure, the masks), read by rank 0 and handed to every rank.
nlohmann::json read_on_root(const fs::path& path, Communicator& comm, const char* hint) {
  std::string text;
  if (comm.is_root()) {
    std::ifstream in(path);
    MT_CHECK(in.good(), IoError, "'", path.string(), "' is missing: ", hint);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string why;
  std::optional<nlohmann::json> parsed = try_parse_json(broadcast_string(comm, text), why);
  MT_CHECK(parsed, IoError, "'", path.string(), "' is not valid JSON: ", why);
  return std::move(*parsed);
}

fs::path place_pipeline(const Config& config, const std::string& resume) {
  configured_backend(config);  // a GPU asked for but missing stops the run before any folder exists
  const std::string root = config.string("output.root"), name = config.string("name");
  if (resume == "auto") {
    if (const auto run = latest_resumable_run(root, name)) return *run;
    std::cout << "morphtrain: nothing under " << root << "/" << name << "/ to resume; starting a new run" << std::endl;
  } else if (!resume.empty()) {
    MT_CHECK(fs::exists(fs::path(resume) / "pipeline.json") || fs::exists(fs::path(resume) / "config.yaml"),
             ConfigError, "'", resume, "' is not a pipeline run directory (no pipeline.json or config.yaml)");
    return resume;
  }
  const fs::path dir = create_run_dir(root, name);
  write_file_atomically((dir / "config.yaml").string(), config.dump());
  return dir;
}

// A phase's own checkpoints, if it wrote any: where a resume within the phase starts.
fs::path checkpoints_of(const fs::path& phase_dir) {
  return fs::exists(phase_dir / "checkpoints" / "last") ? phase_dir / "checkpoints" : fs::path{};
}

// The weights a finished phase left (its newest complete checkpoint) into `graph`: rank 0
// reads them, every rank gets them.
void load_phase_weights(const fs::path& phase_dir, Graph& graph, const Config& config, Communicator& comm) {
  if (comm.is_root()) {
    TrainerState unused;
    CheckpointManager phase({(phase_dir / "checkpoints").string(), 1, config.string("model.name"),
                             CheckpointAccess::read},
                            std::cout);
    phase.load("auto", graph, nullptr, unused);
  }
  broadcast_graph(comm, graph);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ResRep's Rep: the compactor model merged into a plain slim model (lossless), which is the result
// (`finetune`: ResRep's recipe, no further training) or is retrained from fresh weights
// (`scratch`).
int merge_and_retrain(const Config& config, layers::Model& dense, const DataSplits& data, const fs::path& run,
                      PipelineState& state, Communicator& comm) {
  const bool root = comm.is_root();
  const nlohmann::json masks = read_on_root(run / "learn" / "resrep_masks.json", comm, "rerun the learn phase");
  std::vector<bool> masked(masks.at("num_groups").get<size_t>(), false);
  for (int g : masks.at("masked_groups")) masked.at(static_cast<size_t>(g)) = true;
  morph::MergeResult merged = morph::merge_compactors(dense, masked);
  for (const std::string& line : merged.revived) std::cout << "merge: " << line << std::endl;
  for (const std::string& line : merged.inexact) std::cout << "merge: inexact: " << line << std::endl;
  layers::ModelOptions plain_options = model_options(config, data.train);
  plain_options.compactors = false;
  layers::Model plain = layers::build_model(config.string("model.name"), plain_options);
  if (root) morph::write_structure((run / "structure.json").string(), merged.selection, plain);
  std::cout << "== merge: " << dense.graph.num_parameters() << " parameters with compactors -> "
            << merged.model.graph.num_parameters() << " (" << masks.at("masked_groups").size()
            << " channel groups masked)" << std::endl;
  const double merged_accuracy = root ? evaluate_model(config, merged.model, data).accuracy : 0.0;
  std::cout << "merged model: test accuracy " << 100 * merged_accuracy << "% (no fine-tuning)" << std::endl;
  if (!state.done("reshape")) state.finish("reshape", {{"merged_test_accuracy", merged_accuracy}});

  layers::Model slim = std::move(merged.model);
  if (config.string("pipeline.retrain") == "scratch") {
    morph::ReshapeOptions ro;
    ro.init = morph::ReshapeInit::fresh;
    ro.seed = static_cast<uint64_t>(config.integer("seed")) + 1;
    slim = morph::reshape_model(plain, merged.selection, ro).model;
    const fs::path retrain_dir = run / "retrain";
    if (!state.done("retrain")) {
      PhaseSetup setup{"retrain: the slim model (scratch)", retrain_dir, checkpoints_of(retrain_dir), "auto", false,
                       config.integer("pipeline.retrain_epochs")};
      setup.comm = &comm;
      const PhaseResult r = run_training_phase(config, slim, data, setup);
      state.finish("retrain", {{"seconds", r.seconds + state.figure("retrain", "seconds", 0.0)},
                               {"test_accuracy", r.test_accuracy},
                               {"steps", r.steps}});
    } else {
      load_phase_weights(retrain_dir, slim.graph, config, comm);
    }
  } else if (!state.done("retrain")) {
    state.finish("retrain", {{"seconds", 0.0}, {"test_accuracy", merged_accuracy}, {"steps", 0}, {"merged_only", true}});
  }
  if (!root) return 0;  // the exports and the report are rank 0's
  write_slim_safetensors((run / "slim.safetensors").string(), slim, run / "structure.json");
  const PipelineReport report = pipeline_report(config, plain, slim, data, run, state.json());
  std::cout << report.summary;
  return 0;
}

}  // namespace

bool pipeline_enabled(const Config& config) { return config.string("pipeline.retrain") != "none"; }

int pipeline_command(const Config& config, const std::string& resume, Communicator& comm) {
  MT_CHECK(morph_enabled(config), ConfigError, "pipeline.retrain needs structure learning: set morph.method");
  MT_CHECK(config.string("model.structure").empty(), ConfigError,
           "pipeline.retrain learns a structure; model.structure names one already (train it without the pipeline)");
  DataSplits data = load_data(config);
  layers::Model dense = layers::build_model(config.string("model.name"), model_options(config, data.train));
  const bool scratch = config.string("pipeline.retrain") == "scratch";

  const bool root = comm.is_root();
  const fs::path run = broadcast_string(comm, root ? place_pipeline(config, resume).string() : std::string());
  // Rank 0 writes the run directory; it holds the run's lock until the command ends.
  std::optional<RunDirLock> lock;
  if (root) lock.emplace(run);
  PipelineState state(run / "pipeline.json", comm);
  std::cout << "morphtrain pipeline: learn -> reshape -> retrain (" << config.string("pipeline.retrain")
            << ") -> report\nrun directory " << run.string() << std::endl;

  // 1. Learn the structure.
  const fs::path learn_dir = run / "learn";
  if (!state.done("learn")) {
    const std::string& learn_schedule = config.string("pipeline.learn_schedule");
    PhaseSetup setup{"learn: " + config.string("model.name") + " with " + config.string("morph.method"), learn_dir,
                     checkpoints_of(learn_dir), "auto", true, 0, learn_schedule == "same" ? "" : learn_schedule};
    setup.comm = &comm;
    const PhaseResult r = run_training_phase(config, dense, data, setup);
    nlohmann::json figures{{"seconds", r.seconds + state.figure("learn", "seconds", 0.0)},
                           {"test_accuracy", r.test_accuracy},
                           {"steps", r.steps}};
    if (r.resrep) {
      figures["cost_name"] = r.resrep->resrep().cost_model().cost_name();
      figures["full_cost"] = r.resrep->resrep().full_cost();
      figures["learned_cost"] = r.resrep->resrep().cost();
      r.resrep->export_structure();  // resrep_masks.json: what the merge (and a resume) reads
    } else {
      figures["cost_name"] = r.morph->regularizer().cost_name();
      figures["full_cost"] = r.morph->regularizer().full_cost();
      figures["learned_cost"] = r.morph->last_cost();
    }
    state.finish("learn", figures);
  } else {
    std::cout << "== learn: done (" << run.string() << "/pipeline.json)" << std::endl;
    load_phase_weights(learn_dir, dense.graph, config, comm);
  }

  // 2. Reshape: the structure from the learned weights (trimmed to the budget, expanded,
  // rounded), then the slim model, fresh (MorphNet's recipe) or from the learned weights.
  const auto t_reshape = std::chrono::steady_clock::now();
  if (resrep_enabled(config)) return merge_and_retrain(config, dense, data, run, state, comm);
  // Rank 0 chooses the structure from its weights (the same on every rank) and writes it; every
  // rank builds the slim model from that file's content.
  if (!state.done("reshape") && root) {
    const auto reg = morph::make_regularizer(dense.graph, dense.logits, regularizer_options(config));
    StructureChoiceOptions so;
    so.budget_fraction = config.number("morph.target.fraction");
    so.expand_fraction = config.number("pipeline.expand_to");
    so.round_to = config.integer("pipeline.round_to");
    const StructureChoice choice = choose_structure(dense, *reg, so);
    for (const std::string& note : choice.notes) std::cout << "structure: " << note << std::endl;
    morph::write_structure((run / "structure.json").string(), choice.selection, dense);
    state.finish("reshape", {{"learned_cost", choice.learned_cost},
                             {"trimmed_cost", choice.trimmed_cost},
                             {"final_cost", choice.final_cost},
                             {"full_cost", reg->full_cost()},
                             {"multiplier", choice.multiplier},
                             {"notes", choice.notes}});
  }
  if (!state.done("reshape")) state.finish("reshape", state.json().value("reshape", nlohmann::json::object()));
  const morph::ChannelSelection keep = morph::structure_from_json(
      read_on_root(run / "structure.json", comm, "rerun the reshape phase"), dense);
  morph::ReshapeOptions ro;
  ro.init = scratch ? morph::ReshapeInit::fresh : morph::ReshapeInit::copy;
  ro.seed = static_cast<uint64_t>(config.integer("seed")) + 1;
  morph::Reshaped slim = morph::reshape_model(dense, keep, ro);
  for (const std::string& line : slim.revived) std::cout << "reshape: " << line << std::endl;
  std::cout << "== reshape: " << dense.graph.num_parameters() << " -> " << slim.model.graph.num_parameters()
            << " parameters" << std::endl;
  const double reshape_seconds = seconds_since(t_reshape);

  // 3. Retrain the slim model.
  const fs::path retrain_dir = run / "retrain";
  if (!state.done("retrain")) {
    PhaseSetup setup{"retrain: the slim model (" + config.string("pipeline.retrain") + ")", retrain_dir,
                     checkpoints_of(retrain_dir), "auto", false, config.integer("pipeline.retrain_epochs")};
    setup.comm = &comm;
    const PhaseResult r = run_training_phase(config, slim.model, data, setup);
    state.finish("retrain", {{"seconds", r.seconds + state.figure("retrain", "seconds", 0.0)},
                             {"test_accuracy", r.test_accuracy},
                             {"steps", r.steps},
                             {"reshape_seconds", reshape_seconds}});
  } else {
    std::cout << "== retrain: done" << std::endl;
    load_phase_weights(retrain_dir, slim.model.graph, config, comm);
  }

  // 4. Report and exports.
  if (!root) return 0;
  write_slim_safetensors((run / "slim.safetensors").string(), slim.model, run / "structure.json");
  const PipelineReport report = pipeline_report(config, dense, slim.model, data, run, state.json());
  std::cout << report.summary;
  return 0;
}

}  // namespace mt::tools
