#pragma once
// The config as typed structs, read from the validated Config once (tools/config.h builds them at
// load), so that no code outside tools/config* names a key by its string. Each field is the key
// of the same path: settings.optim.lr is optim.lr. Meanings, defaults and ranges:
// tools/config_schema.cpp (`morphtrain --help-config`), the single source of truth; a test
// checks that every key of the schema is read here.
#include <cstdint>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace mt::tools {

class Config;

struct Settings {
  std::string name;
  int64_t seed = 0;
  std::string device;
  struct Output {
    std::string root;
  } output;
  struct Model {
    std::string name;
    int64_t depth = 0;
    std::string shortcut;
    double width_multiplier = 0;
    double dropout = 0;
    double label_smoothing = 0;
    YAML::Node graph;                  // a path (scalar) or the layer list
    std::string onnx;                  // model.name onnx: the .onnx file
    std::vector<double> input_shape;  // [C, H, W], or empty
    std::string structure;
    std::string weights;
    bool weights_strict = true;
    bool gating = false;
    double gate_temperature = 0;
    bool gate_keep_first_channel = true;
  } model;
  struct Data {
    std::string dataset;
    std::string path;
    std::vector<double> mean;
    int64_t image_height = 0, image_width = 0;  // data.image_size
    bool stream = true;
    int64_t workers = 0;
    int64_t channels = 0;
    int64_t synthetic_size = 0;
    std::vector<double> std_dev;  // data.std (a member named std would hide the namespace)
    struct Augment {
      int64_t pad = 0;
      bool hflip = false;
    } augment;
  } data;
  struct Train {
    int64_t epochs = 0;
    int64_t batch_size = 0;
    int64_t max_steps = 0;
    std::string on_nonfinite;
    int64_t log_every = 0;
    std::string progress;
  } train;
  struct Checkpoint {
    bool enabled = false;
    int64_t every_steps = 0;
    int64_t keep_last = 0;
  } checkpoint;
  struct Debug {
    int64_t inject_nonfinite_at_step = 0;
    std::string inject_nonfinite_into;
  } debug;
  struct Morph {
    std::string method;
    double strength = 0;
    bool proximal = false;
    double threshold = 0;
    std::string hardware;
    int64_t latency_batch = 0;
    int64_t export_every_steps = 0;
    struct Resrep {
      double lasso_strength = 0;
      double masked_lasso_strength = 0;
      int64_t warmup_steps = 0;
      int64_t mask_interval = 0;
      int64_t mask_step = 0;
      std::string ranking;
    } resrep;
    struct LogisticSigmoid {
      bool regularize_on_mask = true;  // else on the probabilities
    } logistic_sigmoid;
    struct Target {
      std::string cost;
      double fraction = 0;
    } target;
  } morph;
  struct Pipeline {
    std::string retrain;
    std::string learn_schedule;
    int64_t retrain_epochs = 0;
    int64_t round_to = 0;
    std::string round_widths;
    double expand_to = 0;
    double max_flops = 0;
    int64_t benchmark_batch = 0;
    bool never_slower = true;
    std::string report_note;
    std::string baseline;
  } pipeline;
  struct Eval {
    int64_t recalibrate_bn = 0;
    int64_t batch_size = 0;
  } eval;
  struct Distributed {
    double bucket_mb = 0;
    bool overlap = false;
    bool sync_bn_stats = false;
    double timeout_s = 0;
    int64_t verify_every_steps = 0;
  } distributed;
  struct Optim {
    std::string name;
    double lr = 0;
    double momentum = 0;
    bool nesterov = false;
    double weight_decay = 0;
    std::vector<double> betas;
  } optim;
  struct Schedule {
    std::string name;
    int64_t warmup_steps = 0;
    int64_t step_size = 0;
    std::vector<double> milestones;
    double gamma = 0;
    double eta_min = 0;
  } schedule;
};

// Every key of `c`, as read by Config's typed getters.
Settings read_settings(const Config& c);

}  // namespace mt::tools
