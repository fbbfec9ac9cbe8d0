// morphtrain: train a network described by a YAML config.
//   morphtrain --config configs/resnet20_fmnist.yaml [--set optim.lr=0.1 ...]
// Exit codes: 0 done, 1 a run-time failure (data, numerics, I/O), 2 a bad config or command line.
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "kernels/backends.h"
#include "layers/summary.h"
#include "tools/config_docs.h"
#include "tools/experiment.h"
#include "tools/run_dir.h"

namespace {

int run(const mt::tools::Config& config, bool summary_only) {
  using namespace mt;
  tools::DataSplits data = tools::load_data(config);
  layers::Model model = layers::build_model(config.string("model.name"), tools::model_options(config, data.train));
  if (summary_only) {
    std::cout << layers::format_summary(layers::summarize(model.graph));
    return 0;
  }
  const TrainOptions options = tools::train_options(config);
  const auto run_dir = tools::create_run_dir(config.string("output.root"), config.string("name"));
  {
    std::ofstream resolved(run_dir / "config.yaml");
    resolved << config.dump();
    MT_CHECK(resolved.good(), IoError, "cannot write ", (run_dir / "config.yaml").string());
  }
  const LrSchedule schedule = tools::lr_schedule(config, data.train.size() / options.batch_size);
  KernelBackend& backend = backend_for(Device::cpu());
  std::cout << "morphtrain: " << config.string("model.name") << " (" << model.graph.num_parameters()
            << " parameters) on " << data.train.name << " (" << data.train.size() << " train, "
            << (data.test ? data.test->size() : 0) << " test), backend " << backend.name()
            << ", seed " << config.integer("seed") << "\nrun directory " << run_dir.string() << std::endl;
  Trainer trainer(model, backend, tools::optimizer_factory(config, model.graph), schedule, options,
                  tools::normalization(config, data.train.sample[0]));
  const auto epochs = trainer.fit(data.train, data.test ? &*data.test : nullptr, std::cout);
  if (trainer.skipped_steps())
    std::cout << "warning: skipped " << trainer.skipped_steps() << " steps with a non-finite loss or gradient" << std::endl;
  if (!epochs.empty() && data.test)
    std::cout << "final test accuracy " << 100 * epochs.back().test.accuracy << "% after "
              << trainer.steps() << " steps" << std::endl;
  return 0;
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"morphtrain: train convolutional networks (structure learning lands next)"};
  std::string config_path;
  std::vector<std::string> overrides;
  bool print_config = false, summary = false, keys = false, markdown = false;
  app.add_option("--config,-c", config_path, "experiment YAML file")->check(CLI::ExistingFile);
  app.add_option("--set", overrides, "override a config key: --set optim.lr=0.1 (repeatable)");
  app.add_flag("--print-config", print_config, "print the resolved config and exit");
  app.add_flag("--summary", summary, "print the model's per-layer summary and exit");
  app.add_flag("--help-config", keys, "list every config key with its default and meaning");
  app.add_flag("--markdown", markdown, "with --help-config: print the docs/config.md reference");
  CLI11_PARSE(app, argc, argv);

  if (keys) {
    if (markdown)
      std::cout << mt::tools::config_reference_markdown();
    else
      print_config_keys();
    return 0;
  }
  try {
    const mt::tools::Config config =
        config_path.empty() ? mt::tools::Config::defaults() : mt::tools::Config::load(config_path, overrides);
    if (print_config) {
      std::cout << config.dump();
      return 0;
    }
    return run(config, summary);
  } catch (const mt::ConfigError& e) {
    std::cerr << "morphtrain: config error: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "morphtrain: error: " << e.what() << std::endl;
    return 1;
  }
}
