#include "tools/experiment.h"

#include <cmath>
#include <filesystem>
#include <optional>
#include <thread>

#include "tools/environment.h"
#include "trainers/adamw.h"
#include "trainers/cifar.h"
#include "trainers/image_folder.h"
#include "trainers/idx.h"
#include "trainers/sgd.h"

namespace mt::tools {

namespace {
// An IDX file, compressed or not, whichever is present.
std::string idx_file(const std::string& dir, const std::string& stem) {
  for (const char* suffix : {".gz", ""}) {
    const std::string p = dir + "/" + stem + suffix;
    if (std::filesystem::exists(p)) return p;
  }
  MT_FAIL(DataError, "data.path '", dir, "' has no ", stem, "[.gz]",
          dir == "/usr/share/datasets/fashion-mnist" ? " (apt-get install dataset-fashion-mnist)" : "");
}

// Noise with a bright horizontal band whose position is the class: learnable in a few steps, so
// tests and smoke runs can check that training works without a real data set. sample: [C, H, W].
Dataset synthetic(int64_t n, uint64_t seed, const Shape& sample) {
  Dataset d;
  d.name = "synthetic";
  d.sample = sample;
  d.num_classes = 10;
  const int64_t h = sample[1], w = sample[2], size = sample.numel();
  Rng rng(seed);
  d.labels.resize(n);
  d.pixels.resize(n * size);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = static_cast<int64_t>(rng.next() % 10);
    d.labels[i] = label;
    for (int64_t p = 0; p < size; ++p) {
      const bool band = (p / w) % h * 10 / h == label;
      d.pixels[i * size + p] = static_cast<uint8_t>(rng.uniform(0, 100) + (band ? 150 : 0));
    }
  }
  return d;
}

// model.input_shape as a Shape [C, H, W]; nullopt when it is [] (the data set decides).
std::optional<Shape> input_shape(const Config& c) {
  const std::vector<double>& s = c.settings().model.input_shape;
  if (s.empty()) return std::nullopt;
  bool ok = s.size() == 3;
  for (double v : s) ok = ok && v >= 1 && v <= 65536 && v == std::floor(v);
  MT_CHECK(ok, ConfigError, c.source(), ": key 'model.input_shape' expects [C, H, W] of positive integers, found ",
           s.size(), " numbers");
  return Shape{static_cast<int64_t>(s[0]), static_cast<int64_t>(s[1]), static_cast<int64_t>(s[2])};
}

// model.graph and model.name: a YAML graph goes with model.name yaml and nothing else.
void set_graph(const Config& c, layers::ModelOptions& o) {
  const YAML::Node& graph = c.settings().model.graph;
  const bool given = !(graph.IsScalar() && graph.Scalar().empty()) && !graph.IsNull();
  const bool yaml = c.settings().model.name == "yaml";
  MT_CHECK(given || !yaml, ConfigError, c.source(), ": model.name yaml needs model.graph: the path of a YAML graph ",
           "file or the list of layers (layers/yaml_graph.h)");
  MT_CHECK(!given || yaml, ConfigError, c.source(), ": model.graph is given but model.name is '",
           c.settings().model.name, "'; hint: set model.name: yaml");
  const std::string& onnx = c.settings().model.onnx;
  const bool onnx_model = c.settings().model.name == "onnx";
  MT_CHECK(!onnx_model || !onnx.empty(), ConfigError, c.source(),
           ": model.name onnx needs model.onnx: the path of an .onnx file");
  MT_CHECK(onnx.empty() || onnx_model, ConfigError, c.source(), ": model.onnx is given but model.name is '",
           c.settings().model.name, "'; hint: set model.name: onnx");
  if (onnx_model) {
    MT_CHECK(std::filesystem::is_regular_file(onnx), ConfigError, c.source(), ": model.onnx: '", onnx,
             "' is not a file");
    o.onnx_source = onnx;
  }
  if (!given) return;
  if (graph.IsScalar()) {
    o.graph_source = graph.Scalar();
  } else {  // inline: its messages name the config file, whose lines the nodes carry
    o.graph_spec = graph;
    o.graph_source = c.source();
  }
}
// data.path/train/<class>/... and, when present, data.path/test/ (or val/) with the same classes.
DataSplits load_image_folders(const Config& c, const std::string& dir) {
  ImageFolderOptions o;
  o.size = c.settings().data.image_height;
  o.width = c.settings().data.image_width;
  o.stream = c.settings().data.stream;
  o.channels = static_cast<int>(c.settings().data.channels);
  MT_CHECK(o.channels == 1 || o.channels == 3, ConfigError, "data.channels must be 1 or 3, got ", o.channels);
  const std::string train_dir = dir + "/train";
  MT_CHECK(std::filesystem::is_directory(train_dir), DataError, "image_folder data.path '", dir,
           "' has no train/ folder (expected ", dir, "/train/<class>/<image>.png|jpg)");
  std::vector<std::string> classes, test_classes;
  DataSplits splits{load_image_folder(train_dir, o, &classes), std::nullopt};
  for (const char* name : {"test", "val"}) {
    const std::string test_dir = dir + "/" + name;
    if (!std::filesystem::is_directory(test_dir)) continue;
    splits.test = load_image_folder(test_dir, o, &test_classes);
    MT_CHECK(test_classes == classes, DataError, "image_folder '", test_dir,
             "' must hold the same class folders as '", train_dir, "'");
    splits.test->num_classes = splits.train.num_classes;
    break;
  }
  return splits;
}
}  // namespace

DataSplits load_data(const Config& c) {
  const std::string& kind = c.settings().data.dataset;
  if (kind == "synthetic") {
    const int64_t n = c.settings().data.synthetic_size;
    const Shape sample = input_shape(c).value_or(Shape{1, 28, 28});
    return {synthetic(n, c.settings().seed, sample),
            synthetic(std::max<int64_t>(n / 4, 1), c.settings().seed + 1, sample)};
  }
  const std::string& dir = c.settings().data.path;
  MT_CHECK(std::filesystem::is_directory(dir), DataError, "data.path '", dir, "' is not a folder",
           dir == "/usr/share/datasets/fashion-mnist" ? " (apt-get install dataset-fashion-mnist)" : "");
  if (kind == "cifar10" || kind == "cifar100") {
    const CifarVariant v = kind == "cifar10" ? CifarVariant::cifar10 : CifarVariant::cifar100;
    return {load_cifar(dir, DataSplit::train, v), load_cifar(dir, DataSplit::test, v)};
  }
  if (kind == "image_folder") return load_image_folders(c, dir);
  // Named one by one so that the first missing file is the one reported.
  const std::string train_images = idx_file(dir, "train-images-idx3-ubyte");
  const std::string train_labels = idx_file(dir, "train-labels-idx1-ubyte");
  const std::string test_images = idx_file(dir, "t10k-images-idx3-ubyte");
  const std::string test_labels = idx_file(dir, "t10k-labels-idx1-ubyte");
  return {load_idx(train_images, train_labels), load_idx(test_images, test_labels)};
}

layers::ModelOptions model_options(const Config& c, const Dataset& train) {
  layers::ModelOptions o;
  if (const auto shape = input_shape(c))
    MT_CHECK(*shape == train.sample, ConfigError, c.source(), ": model.input_shape ", shape->str(),
             " disagrees with data set '", train.name, "', whose samples are ", train.sample.str());
  set_graph(c, o);
  o.in_channels = train.sample[0];
  o.image_size = train.sample[1];
  o.image_width = train.sample[2];
  o.num_classes = train.num_classes;
  o.seed = static_cast<uint64_t>(c.settings().seed);
  o.shortcut = c.settings().model.shortcut;
  o.depth = static_cast<int>(c.settings().model.depth);
  o.width_multiplier = c.settings().model.width_multiplier;
  o.dropout = c.settings().model.dropout;
  o.label_smoothing = c.settings().model.label_smoothing;
  // FiGS gates are what the logistic_sigmoid method regularizes: it brings them along.
  o.gating = c.settings().model.gating || c.settings().morph.method == "logistic_sigmoid";
  o.gate_temperature = c.settings().model.gate_temperature;
  o.gate_keep_first_channel = c.settings().model.gate_keep_first_channel;
  o.compactors = c.settings().morph.method == "resrep";  // ResRep's 1x1 compactors after each conv-BN
  return o;
}

layers::Model plain_model(const Config& c, const Dataset& train) {
  layers::ModelOptions o = model_options(c, train);
  o.compactors = false;
  return layers::build_model(c.settings().model.name, o);
}

OptimizerFactory optimizer_factory(const Config& c, const Graph& graph) {
  // PyTorch users' usual recipe: no weight decay on BN scales and shifts and on biases.
  // Gate logits neither (decay would pull every gate towards half open), nor ResRep's compactors
  // (their penalty is the lasso; decay would shrink the rows it must rank).
  std::vector<ParamGroup> groups{no_weight_decay(bias_and_norm_params(graph)),
                                 no_weight_decay(name_matches({"*.gate.logits", "*.compactor.weight"}))};
  if (c.settings().optim.name == "adamw") {
    AdamWOptions o;
    o.lr = c.settings().optim.lr;
    o.weight_decay = c.settings().optim.weight_decay;
    const std::vector<double> betas = c.settings().optim.betas;
    MT_CHECK(betas.size() == 2, ConfigError, "optim.betas needs two numbers, got ", betas.size());
    o.beta1 = betas[0];
    o.beta2 = betas[1];
    validate(o);
    return [o, groups](std::vector<ParamRef> params) {
      return std::make_unique<AdamW>(std::move(params), o, groups);
    };
  }
  SgdOptions o;
  o.lr = c.settings().optim.lr;
  o.momentum = c.settings().optim.momentum;
  o.nesterov = c.settings().optim.nesterov;
  o.weight_decay = c.settings().optim.weight_decay;
  validate(o);
  return [o, groups](std::vector<ParamRef> params) {
    return std::make_unique<Sgd>(std::move(params), o, groups);
  };
}

LrSchedule lr_schedule(const Config& c, int64_t steps_per_epoch, int64_t epochs, const std::string& name) {
  if (epochs <= 0) epochs = c.settings().train.epochs;
  const std::string& kind = name.empty() ? c.settings().schedule.name : name;
  nlohmann::json j{{"kind", kind}, {"warmup", c.settings().schedule.warmup_steps}};
  if (kind == "step") j["step_size"] = c.settings().schedule.step_size;
  if (kind == "step" || kind == "multi_step") j["gamma"] = c.settings().schedule.gamma;
  if (kind == "multi_step") {
    std::vector<int64_t> m;
    for (double v : c.settings().schedule.milestones) m.push_back(static_cast<int64_t>(v));
    j["milestones"] = m;
  }
  if (kind == "cosine") {
    int64_t total = epochs * steps_per_epoch;
    if (c.settings().train.max_steps) total = std::min(total, c.settings().train.max_steps);
    j["t_max"] = std::max<int64_t>(total, 1);
    j["eta_min"] = c.settings().schedule.eta_min;
  }
  return lr_schedule_from_json(j, c.settings().optim.lr, steps_per_epoch);
}

TrainOptions train_options(const Config& c) {
  TrainOptions t;
  t.epochs = c.settings().train.epochs;
  t.batch_size = c.settings().train.batch_size;
  t.max_steps = c.settings().train.max_steps;
  t.log_every = c.settings().train.log_every;
  t.eval_batch_size = c.settings().eval.batch_size;
  t.seed = static_cast<uint64_t>(c.settings().seed);
  t.skip_nonfinite_steps = c.settings().train.on_nonfinite == "skip_step";
  t.inject_nonfinite_at_step = c.settings().debug.inject_nonfinite_at_step;
  t.inject_into_statistics = c.settings().debug.inject_nonfinite_into == "running_statistics";
  t.augment.pad = c.settings().data.augment.pad;
  t.augment.hflip = c.settings().data.augment.hflip;
  const int64_t workers = c.settings().data.workers;
  t.loader_workers = workers > 0 ? static_cast<int>(workers) : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  t.checkpoint_every_steps = c.settings().checkpoint.every_steps;
  const int64_t recalibrate = c.settings().eval.recalibrate_bn;
  t.recalibrate_bn_batches = recalibrate >= 0 ? recalibrate : c.settings().morph.method != "none" ? 50 : 0;
  t.profile = environment().profile;
  return t;
}

DataParallelOptions data_parallel_options(const Config& c) {
  DataParallelOptions o;
  o.bucket_bytes = std::max<int64_t>(1, static_cast<int64_t>(c.settings().distributed.bucket_mb * (1 << 20)));
  o.overlap = c.settings().distributed.overlap;
  o.sync_bn_stats = c.settings().distributed.sync_bn_stats;
  o.verify_every_steps = c.settings().distributed.verify_every_steps;
  return o;
}

CommunicatorOptions communicator_options(const Config& c) {
  CommunicatorOptions o;
  o.timeout_s = c.settings().distributed.timeout_s;
  return o;
}

Normalization normalization(const Config& c, const Dataset& train) {
  const int64_t channels = train.sample[0];
  Normalization n{c.settings().data.mean, c.settings().data.std_dev};
  for (double s : n.std) MT_CHECK(s > 0, ConfigError, "data.std values must be > 0");
  if (n.mean.empty() || n.std.empty()) {
    const Normalization measured = channel_statistics(train);
    if (n.mean.empty()) n.mean = measured.mean;
    if (n.std.empty()) n.std = measured.std;
  }
  MT_CHECK(static_cast<int64_t>(n.mean.size()) == channels && static_cast<int64_t>(n.std.size()) == channels,
           ConfigError, "data.mean and data.std need one value per image channel (", channels,
           "), or [] to compute them from the training set");
  return n;
}

}  // namespace mt::tools
