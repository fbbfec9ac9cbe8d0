// Every config key morphtrain knows, with its type, default and meaning. docs/config.md is
// written from this table (`morphtrain --help-config`).
#include "tools/config.h"

namespace mt::tools {

const std::vector<KeySpec>& config_schema() {
  using K = KeyType;
  static const std::vector<KeySpec> schema = {
      {"name", K::string, "experiment", "run name: the run directory is runs/<name>/<timestamp>/", {}},
      {"seed", K::integer, "0", "seeds initialisation and shuffling; a run is reproducible with it", {}, 0},
      {"output.root", K::string, "runs", "where run directories are created: <root>/<name>/<timestamp>/", {}},
      {"device", K::string, "cpu", "where to train", {"cpu"}},
      {"model.name", K::string, "resnet20", "zoo model (resnet20/32/44/56/110, resnet18/34/50, vgg, vgg_small, mobilenet_v1, mobilenet_v2)", {}},
      {"model.depth", K::integer, "20", "depth of model.name resnet_cifar (6n + 2)", {}, 8, 1202},
      {"model.shortcut", K::string, "A", "CIFAR ResNet shortcut: A (zero-pad) or B (1x1 conv + BN)", {"A", "B"}},
      {"model.width_multiplier", K::number, "1.0", "scales every layer's width", {}, 1e-3, 64},
      {"model.dropout", K::number, "0.0", "dropout before the classifier", {}, 0, 0.99},
      {"model.label_smoothing", K::number, "0.0", "label smoothing of the cross-entropy", {}, 0, 1},
      {"model.structure", K::string, "\"\"", "a structure file (structure.json of a pipeline run, or MorphNet's learned_structure.json): train the model reshaped to it, from fresh weights", {}},
      {"model.gating", K::boolean, "false", "insert a FiGS gate (learned per-channel on/off switch) after every prunable layer; morph.method logistic_sigmoid turns it on", {}},
      {"model.gate_temperature", K::number, "0.001", "temperature of the gates' relaxed-Bernoulli sample (MorphNet's default)", {}, 1e-6, 100},
      {"data.dataset", K::string, "fashion_mnist", "fashion_mnist / mnist (IDX files), cifar10 / cifar100 (binary version files), image_folder (data.path/train/<class>/*.png|jpg, optional data.path/test/), or synthetic", {"fashion_mnist", "mnist", "cifar10", "cifar100", "image_folder", "synthetic"}},
      {"data.path", K::string, "/usr/share/datasets/fashion-mnist", "folder with the data set's files", {}},
      {"data.mean", K::number_list, "[]", "per-channel mean of pixels scaled to [0, 1]; [] computes it from the training set", {}},
      {"data.std", K::number_list, "[]", "per-channel standard deviation; [] computes it from the training set", {}},
      {"data.image_size", K::integer, "32", "image_folder: images are resized (shorter side) and centre-cropped to this square size", {}, 4, 4096},
      {"data.channels", K::integer, "3", "image_folder: 3 (RGB) or 1 (gray)", {}, 1, 3},
      {"data.synthetic_size", K::integer, "1024", "samples of the synthetic data set", {}, 1},
      {"data.augment.pad", K::integer, "0", "random crop after zero-padding each border by this many pixels (0: off)", {}, 0, 64},
      {"data.augment.hflip", K::boolean, "false", "random horizontal flip", {}},
      {"train.epochs", K::integer, "1", "passes over the training set", {}, 1},
      {"train.batch_size", K::integer, "128", "samples per step", {}, 1, 1 << 20},
      {"train.max_steps", K::integer, "0", "stop after this many steps (0: no limit)", {}, 0},
      {"train.on_nonfinite", K::string, "abort", "a non-finite loss or gradient: stop the run, or skip that step's update", {"abort", "skip_step"}},
      {"train.log_every", K::integer, "50", "steps between metrics lines (and progress lines when not on a terminal)", {}, 1},
      {"train.progress", K::string, "auto", "progress display: a live line on a terminal and plain lines elsewhere (auto), or force one", {"auto", "live", "plain"}},
      {"checkpoint.enabled", K::boolean, "true", "write checkpoints into the run directory's checkpoints/", {}},
      {"checkpoint.every_steps", K::integer, "0", "also checkpoint every N steps within an epoch (0: at epoch ends only)", {}, 0},
      {"checkpoint.keep_last", K::integer, "3", "newest checkpoints kept, besides the best by test accuracy", {}, 1, 1000},
      {"debug.inject_nonfinite_at_step", K::integer, "0", "fault injection: poison a gradient with NaN at this step (0: never)", {}, 0},
      {"morph.method", K::string, "none", "structure learning: MorphNet's gamma (BN scales), group_lasso (filter norms), logistic_sigmoid (FiGS gates), or none", {"none", "gamma", "group_lasso", "logistic_sigmoid"}},
      {"morph.target.cost", K::string, "flops", "the resource the regularizer weighs channels by", {"flops", "model_size", "latency"}},
      {"morph.target.fraction", K::number, "0.0", "budget mode: steer the strength so the learned structure costs this fraction of the dense network (0: off, use morph.strength)", {}, 0, 1},
      {"morph.strength", K::number, "0.0", "regularization strength (fixed); in budget mode the starting strength (0: chosen from the initial term)", {}, 0},
      {"morph.proximal", K::boolean, "true", "gamma and group_lasso: apply the term as a proximal step after each update, so dead channels become exactly zero instead of oscillating around the threshold", {}},
      {"morph.threshold", K::number, "-1", "a channel is alive when its value exceeds this (gamma |scale| 1e-3, group_lasso norm 1e-2, gate probability 0.5 when -1)", {}, -1},
      {"morph.hardware", K::string, "V100", "latency target: a built-in table (K80, P4, T4, P100, V100, TPUv2, FLOP_LATENCY, MEMORY_LATENCY) or a JSON file from `morphtrain --calibrate`", {}},
      {"morph.latency_batch", K::integer, "1", "latency target: the batch size the roofline is evaluated for", {}, 1},
      {"morph.export_every_steps", K::integer, "0", "export the learned structure every N steps besides every epoch end (0: epochs only)", {}, 0},
      {"pipeline.retrain", K::string, "none", "after learning: reshape to the learned structure and retrain the slim model from fresh weights (scratch, MorphNet's recipe) or from the learned ones (finetune); none: train only", {"none", "scratch", "finetune"}},
      {"pipeline.retrain_epochs", K::integer, "0", "epochs of the retrain phase (0: train.epochs)", {}, 0},
      {"pipeline.round_to", K::integer, "1", "round every learned width to a multiple of this (8 or 16 run much faster on oneDNN's blocked kernels); the cost is refitted by width expansion", {}, 1, 1024},
      {"pipeline.expand_to", K::number, "0.0", "width expansion: scale the learned structure uniformly to this fraction of the dense cost (0: no expansion)", {}, 0, 64},
      {"pipeline.benchmark_batch", K::integer, "128", "batch size of the report's dense vs slim inference benchmark (0: skip it)", {}, 0, 65536},
      {"eval.batch_size", K::integer, "500", "samples per evaluation step", {}, 1, 1 << 20},
      {"optim.name", K::string, "sgd", "optimizer", {"sgd", "adamw"}},
      {"optim.lr", K::number, "0.05", "peak learning rate", {}, 0, 1e3},
      {"optim.momentum", K::number, "0.9", "SGD momentum", {}, 0, 0.999999},
      {"optim.nesterov", K::boolean, "false", "Nesterov momentum", {}},
      {"optim.weight_decay", K::number, "5e-4", "L2 weight decay (AdamW: decoupled)", {}, 0, 1},
      {"optim.betas", K::number_list, "[0.9, 0.999]", "AdamW betas", {}},
      {"schedule.name", K::string, "constant", "learning-rate schedule", {"constant", "step", "multi_step", "cosine"}},
      {"schedule.warmup_steps", K::integer, "50", "linear warm-up steps", {}, 0},
      {"schedule.step_size", K::integer, "1000", "step schedule: steps between decays", {}, 1},
      {"schedule.milestones", K::number_list, "[]", "multi_step schedule: steps at which lr decays", {}},
      {"schedule.gamma", K::number, "0.1", "decay factor of step and multi_step", {}, 0, 1},
      {"schedule.eta_min", K::number, "0.0", "cosine schedule: final learning rate", {}, 0},
  };
  return schema;
}

}  // namespace mt::tools
