// morphtrain: train a network described by a YAML config.
//   morphtrain --config configs/resnet20_fmnist.yaml [--set optim.lr=0.1 ...] [--resume auto|PATH]
//   morphtrain --config FILE --evaluate RUN_OR_CHECKPOINT      test-set loss and accuracy
//   morphtrain --config FILE --summary | --print-config         look without running
//   morphtrain --export OUT.onnx|OUT.safetensors [--from RUN_OR_CHECKPOINT] [--config FILE]
//   mpirun -np N morphtrain --config FILE                       data parallel (docs/distributed.md)
// Exit codes: 0 done, 1 a run-time failure (data, numerics, I/O), 2 a bad config or command line.
// MORPHTRAIN_DEBUG=1 adds the source location of the check that failed to an error message.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/calibrate.h"
#include "tools/commands.h"
#include "core/error.h"
#include "tools/config_docs.h"
#include "tools/environment.h"
#include "tools/experiment.h"
#include "tools/pipeline.h"
#include "tools/run_model.h"
#include "trainers/communicator.h"

namespace {

// Under mpirun: the rank the launcher gave this process (0 when not launched by one), known
// before MPI starts, so that a config error every rank hits is printed once.
int launched_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"})
    if (const char* v = std::getenv(var)) return std::atoi(v);
  return 0;
}

// A training run's processes: MPI when launched by mpirun, else this one alone. Ranks other
// than 0 print nothing on stdout (rank 0 reports for the job); errors reach stderr from any rank.
std::unique_ptr<mt::Communicator> start_processes(const mt::tools::Config& config) {
  std::unique_ptr<mt::Communicator> comm = mt::make_communicator(mt::tools::communicator_options(config));
  if (!comm->is_root()) std::cout.setstate(std::ios::badbit);
  return comm;
}

void print_config_keys() {
  for (const auto& k : mt::tools::config_schema()) {
    std::cout << k.path << " (default " << k.fallback << "): " << k.doc;
    if (!k.choices.empty()) {
      std::cout << " [";
      for (size_t i = 0; i < k.choices.size(); ++i) std::cout << (i ? "|" : "") << k.choices[i];
      std::cout << "]";
    }
    std::cout << "\n";
  }
}

// Prints a failure and returns its exit code. A failing rank ends the whole job at once: its peers
// may be waiting for it in a collective, and a clean MPI_Finalize would wait for them. A config
// error every rank hits is printed once.
int fail(const char* what, const std::exception& e, int code, mt::Communicator* comm) {
  const bool several = comm && comm->size() > 1;
  if (several || code != 2 || launched_rank() == 0) {
    std::cerr << "morphtrain: " << what;
    if (several) std::cerr << " (rank " << comm->rank() << ")";
    std::cerr << ": " << e.what() << std::endl;
    // The check's source location is for developers, not in the message a user reads.
    const auto* located = dynamic_cast<const mt::Error*>(&e);
    if (mt::tools::environment().debug && located && !located->where().empty())
      std::cerr << "  (thrown at " << located->where() << ")" << std::endl;
  }
  if (several) comm->abort(code);
  return code;
}

// What the command line asked for.
struct Args {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string resume, evaluate, morph_report, calibrate, json_out = "morph_report.json";
  std::string export_to, export_from;
  bool want_morph_report = false, want_calibrate = false;
  bool print_config = false, summary = false, keys = false, markdown = false;
};

void add_options(CLI::App& app, Args& a) {
  app.add_option("--config,-c", a.config_path, "experiment YAML file")->check(CLI::ExistingFile);
  app.add_option("--set", a.overrides, "override a config key: --set optim.lr=0.1 (repeatable)");
  app.add_option("--resume", a.resume,
                 "continue a run: 'auto' (the newest checkpoint of runs/<name>/, else a new run), a run "
                 "directory or a checkpoint directory");
  app.add_option("--evaluate", a.evaluate,
                 "evaluate a checkpoint on the test set and exit: a checkpoint directory, or a run "
                 "directory (its best checkpoint); the run's config.yaml is used without --config");
  app.add_option("--morph-report", a.morph_report,
                 "print and write as JSON each op's cost, regularization term and alive channels for "
                 "morph.method / morph.target.cost, for fresh weights or the checkpoint given")
      ->expected(0, 1);
  app.add_option("--json", a.json_out, "with --morph-report: where to write the JSON (default morph_report.json)");
  app.add_option("--calibrate", a.calibrate,
                 "measure this machine's peak conv throughput and memory bandwidth into a latency table "
                 "file for morph.hardware; with --config, also the latency of every conv2d and linear shape "
                 "of its model on a grid of channel counts")
      ->expected(0, 1);
  CLI::Option* export_option = app.add_option("--export", a.export_to,
                 "write a model as OUT.onnx (inference graph) or OUT.safetensors (state_dict) and exit: the "
                 "model of --from, or the config's model (fresh weights or model.weights)");
  app.add_option("--from", a.export_from,
                 "with --export: a run directory (its best checkpoint), a checkpoint directory, or a pipeline "
                 "run directory (its slim model); the run's config.yaml is used without --config")
      ->check(CLI::ExistingDirectory)
      ->needs(export_option);
  app.add_flag("--print-config", a.print_config, "print the resolved config and exit");
  app.add_flag("--summary", a.summary, "print the model's per-layer summary and exit");
  app.add_flag("--help-config", a.keys, "list every config key with its default and meaning");
  app.add_flag("--markdown", a.markdown, "with --help-config: print the docs/config.md reference");
}

// The command the arguments name; `comm` is set once processes start (a training run).
int dispatch(Args& a, std::unique_ptr<mt::Communicator>& comm) {
  const std::string table = a.calibrate.empty() ? "latency_table.json" : a.calibrate;
  if (a.want_calibrate && a.config_path.empty()) return mt::tools::calibrate_command(table);
  // A run's own resolved config, unless another one is named.
  const std::string& read_run = !a.evaluate.empty() ? a.evaluate : a.export_from;
  if (a.config_path.empty() && !read_run.empty())
    if (const auto run_config = mt::tools::run_config_of(read_run)) a.config_path = run_config->string();
  const mt::tools::Config config =
      a.config_path.empty() ? mt::tools::Config::defaults() : mt::tools::Config::load(a.config_path, a.overrides);
  if (a.print_config) {
    std::cout << config.dump();
    return 0;
  }
  if (a.want_calibrate) return mt::tools::calibrate_command(table, &config);  // per layer, the config's model
  if (a.summary) return mt::tools::summary_command(config);
  if (!a.evaluate.empty()) return mt::tools::evaluate_command(config, a.evaluate);
  if (!a.export_to.empty()) return mt::tools::export_command(config, a.export_from, a.export_to);
  if (a.want_morph_report) return mt::tools::morph_report_command(config, a.morph_report, a.json_out);
  comm = start_processes(config);
  if (mt::tools::pipeline_enabled(config)) return mt::tools::pipeline_command(config, a.resume, *comm);
  return mt::tools::train_command(config, a.resume, *comm);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"morphtrain: train convolutional networks and learn their structure"};
  Args args;
  add_options(app, args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (or the help) and has its own codes (105, 109, ...); a command
    // line that does not parse is a usage error like a bad config: exit 2, as documented above.
    return app.exit(e) == 0 ? 0 : 2;
  }
  args.want_morph_report = app.count("--morph-report") > 0;
  args.want_calibrate = app.count("--calibrate") > 0;
  if (args.keys) {
    if (args.markdown) std::cout << mt::tools::config_reference_markdown();
    else print_config_keys();
    return 0;
  }
  mt::tools::apply_environment();
  std::unique_ptr<mt::Communicator> comm;
  try {
    return dispatch(args, comm);
  } catch (const mt::ConfigError& e) {
    return fail("config error", e, 2, comm.get());
  } catch (const std::exception& e) {
    return fail("error", e, 1, comm.get());
  }
}

