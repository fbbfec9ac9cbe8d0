#include "tools/training_phase.h"

#include <chrono>
#include <iostream>
#include <optional>

#include "core/json_read.h"
#include "kernels/backends.h"
#include "morph/reshape.h"
#include "morph/structure_file.h"
#include "tools/environment.h"
#include "tools/morph_setup.h"
#include "tools/pretrained.h"

namespace mt::tools {

namespace {

ProgressOptions progress_options(const Config& c) {
  ProgressOptions p;
  const std::string& mode = c.settings().train.progress;
  p.mode = mode == "live" ? ProgressMode::live : mode == "plain" ? ProgressMode::plain : ProgressMode::automatic;
  p.plain_every = c.settings().train.log_every;
  p.dumb_terminal = environment().dumb_terminal;
  return p;
}

}  // namespace

Device configured_device(const Config& config) {
  const std::string& name = config.settings().device;
  if (name == "cpu") return Device::cpu();
  const LocalPlacement local = launched_local_placement();
  // One process per GPU: under mpirun each process of a machine takes the GPU of its local rank.
  if (name == "cuda") return Device::cuda(local.rank);
  if (name.rfind("cuda:", 0) == 0 && name.size() > 5 && name.size() < 9 &&
      name.find_first_not_of("0123456789", 5) == std::string::npos) {
    MT_CHECK(local.size <= 1, ConfigError, "device: '", name, "' would put all ", local.size,
             " processes of this machine on one GPU, and NCCL needs a GPU per process; use device: cuda, "
             "which gives each process the GPU of its local rank (CUDA_VISIBLE_DEVICES chooses which GPUs)");
    return Device::cuda(std::stoi(name.substr(5)));
  }
  MT_FAIL(ConfigError, "device: '", name, "' is not a device; use cpu, cuda (the first GPU) or cuda:N");
}

KernelBackend& configured_backend(const Config& config) {
  const Device device = configured_device(config);
  try {
    return backend_for(device);
  } catch (const BackendError& e) {
    const LocalPlacement local = launched_local_placement();
    if (device.kind == DeviceKind::cpu || local.rank == 0) throw;
    MT_FAIL(ConfigError, e.what(), " (this process is local rank ", local.rank, " of the launcher, hence ",
            device.str(), ": a machine needs a GPU per process it runs)");
  }
}

namespace {

// The dense model reshaped to `keep` with fresh weights, as configured_model builds it.
layers::Model pruned_model(const Config& config, const layers::Model& dense, const morph::ChannelSelection& keep) {
  morph::ReshapeOptions o;
  o.init = morph::ReshapeInit::fresh;
  o.seed = static_cast<uint64_t>(config.settings().seed);
  morph::Reshaped slim = morph::reshape_model(dense, keep, o);
  for (const std::string& line : slim.revived) std::cout << "structure: " << line << std::endl;
  return std::move(slim.model);
}

}  // namespace

layers::Model configured_architecture(const Config& config, const Dataset& train) {
  layers::Model dense = layers::build_model(config.settings().model.name, model_options(config, train));
  const std::string& structure = config.settings().model.structure;
  if (structure.empty()) return dense;
  return pruned_model(config, dense, morph::read_structure(structure, dense));
}

layers::Model configured_model(const Config& config, const Dataset& train) {
  layers::Model model = configured_architecture(config, train);
  load_pretrained_weights(config, model, std::cout);
  return model;
}

layers::Model checkpoint_model(const Config& config, const Dataset& train, const std::optional<std::string>& checkpoint) {
  const std::optional<std::string> stored =
      checkpoint ? read_checkpoint_attachment(*checkpoint, kStructureAttachment) : std::nullopt;
  if (!stored) return configured_architecture(config, train);
  layers::Model dense = layers::build_model(config.settings().model.name, model_options(config, train));
  const std::string source = *checkpoint + "/" + kStructureAttachment;
  return pruned_model(config, dense, morph::parse_structure(*stored, source, dense));
}

std::vector<std::pair<std::string, std::string>> checkpoint_attachments(const Config& config) {
  const std::string& structure = config.settings().model.structure;
  if (structure.empty()) return {};
  const std::optional<std::string> text = read_text_file(structure);
  MT_CHECK(text, IoError, "cannot read structure file '", structure, "' (model.structure)");
  return {{kStructureAttachment, *text}};
}

EvalResult evaluate_model(const Config& config, layers::Model& model, const DataSplits& data) {
  if (!data.test) return {};
  const OptimizerFactory none = [](std::vector<ParamRef>) { return std::unique_ptr<Optimizer>(); };
  const LrSchedule schedule = lr_schedule(config, 1);
  Trainer trainer(model, configured_backend(config), none, schedule, train_options(config),
                  normalization(config, data.train));
  return trainer.evaluate(*data.test);
}

PhaseResult run_training_phase(const Config& config, layers::Model& model, const DataSplits& data,
                               const PhaseSetup& setup) {
  Communicator& comm = setup.comm ? *setup.comm : single_process();
  const bool root = comm.is_root();
  TrainOptions options = train_options(config);
  if (setup.epochs > 0) options.epochs = setup.epochs;
  // Recalibration serves structure learning; a retrain phase needs it only if asked for.
  if (!setup.morph && config.settings().eval.recalibrate_bn < 0) options.recalibrate_bn_batches = 0;
  const int64_t steps_per_epoch = data.train.size() / (options.batch_size * comm.size());
  const LrSchedule schedule = lr_schedule(config, steps_per_epoch, options.epochs, setup.schedule);
  KernelBackend& backend = configured_backend(config);
  // The host communicator moves host memory; gradients on GPUs are summed by NCCL where they live
  // (null for CPU training: the host one sums them too). Declared before the trainer, which uses it.
  const std::unique_ptr<Communicator> device_comm = make_gpu_communicator(comm, backend, communicator_options(config));
  if (root) std::filesystem::create_directories(setup.dir);
  if (!setup.title.empty()) std::cout << "== " << setup.title << ": " << setup.dir.string() << std::endl;
  if (comm.size() > 1)
    std::cout << "data parallel: " << comm.size() << " processes (" << comm.name()
              << (device_comm ? ", gradients over " + device_comm->name() + " on " + backend.device().str() : "")
              << ") x batch " << options.batch_size << " = global batch " << comm.size() * options.batch_size
              << std::endl;

  // Only rank 0 writes: the other ranks have no logger, no export folder and no checkpoints.
  std::optional<RunLogger> logger;
  if (root) logger.emplace(std::cout, setup.dir.string(), progress_options(config));
  RunLogger* log = logger ? &*logger : nullptr;
  const std::string export_dir = root ? setup.dir.string() : std::string();
  Trainer trainer(model, backend, optimizer_factory(config, model.graph), schedule, options,
                  normalization(config, data.train));
  trainer.set_logger(log);
  if (comm.size() > 1) trainer.set_distributed(comm, data_parallel_options(config), device_comm.get());
  const CheckpointOptions co{(setup.dir / "checkpoints").string(),
                             static_cast<int>(config.settings().checkpoint.keep_last), config.settings().model.name,
                             CheckpointAccess::write, checkpoint_attachments(config)};
  std::optional<CheckpointManager> checkpoints;
  if (config.settings().checkpoint.enabled && root) {
    checkpoints.emplace(co, std::cout);
    trainer.set_checkpoints(&*checkpoints);
  }
  PhaseResult result;
  if (setup.morph) {
    result.learner = make_structure_learner(config, model, steps_per_epoch, log, export_dir);
    trainer.add_hook(result.learner.get());
    std::cout << result.learner->summary() << std::endl;
  }
  if (!setup.resume_from.empty() && root) {  // fit() hands rank 0's state to the others
    // The source may be another run's folder: read it, never clean it.
    CheckpointManager source({setup.resume_from.string(), co.keep_last, co.model_name, CheckpointAccess::read},
                             std::cout);
    const CheckpointLoad loaded = trainer.resume(source, setup.which);
    logger->record({{"event", "resume"}, {"checkpoint", loaded.path}, {"step", loaded.step}});
  }

  const auto t0 = std::chrono::steady_clock::now();
  result.epochs = trainer.fit(data.train, data.test ? &*data.test : nullptr);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result.steps = trainer.steps();
  if (trainer.skipped_steps())
    std::cout << "warning: skipped " << trainer.skipped_steps() << " steps with a non-finite loss or gradient"
              << std::endl;
  if (data.test) result.test_accuracy = result.epochs.empty() ? trainer.evaluate(*data.test).accuracy
                                                              : result.epochs.back().test.accuracy;
  return result;
}

}  // namespace mt::tools
