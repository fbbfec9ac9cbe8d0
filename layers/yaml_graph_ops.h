#pragma once
// Internals of the YAML graph format (yaml_graph.cpp reads the list, yaml_graph_ops.cpp knows
// each op's attributes): how a layer's attributes are read and how its errors are reported.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "core/yaml_read.h"
#include "layers/builder.h"

namespace mt::layers {

struct ModelOptions;

// A message that already names its file, line, column and layer: passed on unchanged.
class LayerError : public ConfigError {
  using ConfigError::ConfigError;
};

// The closest candidate within edit distance 2, or "" when none is that close.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// One layer's map: typed attribute reads with defaults, and errors pointing into the file.
class LayerReader {
 public:
  LayerReader(const YAML::Node& layer, std::string name, std::string op, const std::string& source)
      : layer_(layer), name_(std::move(name)), op_(std::move(op)), source_(source) {}

  // A missing attribute takes `fallback`; without one it is an error. Values below `min` are too.
  int64_t integer(const std::string& key, std::optional<int64_t> fallback, int64_t min) const;
  double real(const std::string& key, std::optional<double> fallback, double min, double max) const;
  bool boolean(const std::string& key, std::optional<bool> fallback) const;
  bool has(const std::string& key) const { return static_cast<bool>(layer_[key]); }

  // Throws a LayerError "file:line:col: layer 'name' (op): attribute 'field': message".
  [[noreturn]] void fail(const YAML::Mark& at, const std::string& field, const std::string& message) const;
  [[noreturn]] void fail_at(const std::string& key, const std::string& message) const;

  const std::string& name() const { return name_; }
  const std::string& op() const { return op_; }
  const YAML::Node& node() const { return layer_; }

 private:
  std::string scalar(const std::string& key) const;

  YAML::Node layer_;
  std::string name_, op_;
  const std::string& source_;
};

// What an op's builder gets: the reader, the resolved inputs and how widths are chosen.
struct LayerCall {
  ModelBuilder& b;
  const LayerReader& attrs;
  std::vector<ValueId> inputs;
  const ModelOptions* options;  // null: widths as written
  bool last;                    // this layer's output is the logits

  // A written output width after the multiplier and the `widths` map (never for the logits).
  int64_t width(int64_t written) const;
};

struct YamlOp {
  std::vector<std::string> attributes;  // allowed besides name, op, inputs
  int min_inputs = 1, max_inputs = 1;   // max -1: unbounded
  std::function<ValueId(const LayerCall&)> build;
};

// Every op of the format by name.
const std::map<std::string, YamlOp>& yaml_ops();

}  // namespace mt::layers
