#include "tools/settings.h"

#include <tuple>

#include "tools/config.h"

namespace mt::tools {

Settings read_settings(const Config& c) {
  Settings s;
  s.name = c.string("name");
  s.seed = c.integer("seed");
  s.output.root = c.string("output.root");
  s.device = c.string("device");
  s.model.name = c.string("model.name");
  s.model.depth = c.integer("model.depth");
  s.model.shortcut = c.string("model.shortcut");
  s.model.width_multiplier = c.number("model.width_multiplier");
  s.model.dropout = c.number("model.dropout");
  s.model.label_smoothing = c.number("model.label_smoothing");
  s.model.graph = c.yaml("model.graph");
  s.model.onnx = c.string("model.onnx");
  s.model.input_shape = c.numbers("model.input_shape");
  s.model.structure = c.string("model.structure");
  s.model.weights = c.string("model.weights");
  s.model.weights_strict = c.boolean("model.weights_strict");
  s.model.gating = c.boolean("model.gating");
  s.model.gate_temperature = c.number("model.gate_temperature");
  s.model.gate_keep_first_channel = c.boolean("model.gate_keep_first_channel");
  s.data.dataset = c.string("data.dataset");
  s.data.path = c.string("data.path");
  s.data.mean = c.numbers("data.mean");
  s.data.std_dev = c.numbers("data.std");
  std::tie(s.data.image_height, s.data.image_width) = c.size2d("data.image_size");
  s.data.stream = c.boolean("data.stream");
  s.data.workers = c.integer("data.workers");
  s.data.channels = c.integer("data.channels");
  s.data.synthetic_size = c.integer("data.synthetic_size");
  s.data.augment.pad = c.integer("data.augment.pad");
  s.data.augment.hflip = c.boolean("data.augment.hflip");
  s.train.epochs = c.integer("train.epochs");
  s.train.batch_size = c.integer("train.batch_size");
  s.train.max_steps = c.integer("train.max_steps");
  s.train.on_nonfinite = c.string("train.on_nonfinite");
  s.train.log_every = c.integer("train.log_every");
  s.train.progress = c.string("train.progress");
  s.checkpoint.enabled = c.boolean("checkpoint.enabled");
  s.checkpoint.every_steps = c.integer("checkpoint.every_steps");
  s.checkpoint.keep_last = c.integer("checkpoint.keep_last");
  s.debug.inject_nonfinite_at_step = c.integer("debug.inject_nonfinite_at_step");
  s.debug.inject_nonfinite_into = c.string("debug.inject_nonfinite_into");
  s.morph.method = c.string("morph.method");
  s.morph.resrep.lasso_strength = c.number("morph.resrep.lasso_strength");
  s.morph.resrep.masked_lasso_strength = c.number("morph.resrep.masked_lasso_strength");
  s.morph.resrep.warmup_steps = c.integer("morph.resrep.warmup_steps");
  s.morph.resrep.mask_interval = c.integer("morph.resrep.mask_interval");
  s.morph.resrep.mask_step = c.integer("morph.resrep.mask_step");
  s.morph.resrep.ranking = c.string("morph.resrep.ranking");
  s.morph.logistic_sigmoid.regularize_on_mask = c.string("morph.logistic_sigmoid.regularize_on") == "mask";
  s.morph.target.cost = c.string("morph.target.cost");
  s.morph.target.fraction = c.number("morph.target.fraction");
  s.morph.strength = c.number("morph.strength");
  s.morph.proximal = c.boolean("morph.proximal");
  s.morph.threshold = c.number("morph.threshold");
  s.morph.hardware = c.string("morph.hardware");
  s.morph.latency_batch = c.integer("morph.latency_batch");
  s.morph.export_every_steps = c.integer("morph.export_every_steps");
  s.pipeline.retrain = c.string("pipeline.retrain");
  s.pipeline.learn_schedule = c.string("pipeline.learn_schedule");
  s.pipeline.retrain_epochs = c.integer("pipeline.retrain_epochs");
  s.pipeline.round_to = c.integer("pipeline.round_to");
  s.pipeline.round_widths = c.string("pipeline.round_widths");
  s.pipeline.expand_to = c.number("pipeline.expand_to");
  s.pipeline.max_flops = c.number("pipeline.max_flops");
  s.pipeline.benchmark_batch = c.integer("pipeline.benchmark_batch");
  s.pipeline.never_slower = c.boolean("pipeline.never_slower");
  s.pipeline.report_note = c.string("pipeline.report_note");
  s.pipeline.baseline = c.string("pipeline.baseline");
  s.eval.recalibrate_bn = c.integer("eval.recalibrate_bn");
  s.eval.batch_size = c.integer("eval.batch_size");
  s.distributed.bucket_mb = c.number("distributed.bucket_mb");
  s.distributed.overlap = c.boolean("distributed.overlap");
  s.distributed.sync_bn_stats = c.boolean("distributed.sync_bn_stats");
  s.distributed.timeout_s = c.number("distributed.timeout_s");
  s.distributed.verify_every_steps = c.integer("distributed.verify_every_steps");
  s.optim.name = c.string("optim.name");
  s.optim.lr = c.number("optim.lr");
  s.optim.momentum = c.number("optim.momentum");
  s.optim.nesterov = c.boolean("optim.nesterov");
  s.optim.weight_decay = c.number("optim.weight_decay");
  s.optim.betas = c.numbers("optim.betas");
  s.schedule.name = c.string("schedule.name");
  s.schedule.warmup_steps = c.integer("schedule.warmup_steps");
  s.schedule.step_size = c.integer("schedule.step_size");
  s.schedule.milestones = c.numbers("schedule.milestones");
  s.schedule.gamma = c.number("schedule.gamma");
  s.schedule.eta_min = c.number("schedule.eta_min");
  return s;
}

}  // namespace mt::tools
