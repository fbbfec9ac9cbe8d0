// The ops of the YAML graph format: each op's attributes, how they are read and checked, and
// which builder call they become.
#include <algorithm>
#include <climits>

#include "core/edit_distance.h"
#include "layers/yaml_graph_ops.h"
#include "layers/zoo/model.h"

namespace mt::layers {

namespace {
std::string describe(const YAML::Node& n) {
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  if (n.IsNull()) return "nothing";
  return "'" + n.Scalar() + "'";
}
}  // namespace

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  // Within 2 edits, but never a rewrite of most of a short word ("p" is no typo of "op").
  const size_t limit = std::min<size_t>(2, word.size() / 2);
  std::string best;
  size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_distance) best = c, best_distance = d;
  }
  return best;
}

void LayerReader::fail(const YAML::Mark& at, const std::string& field, const std::string& message) const {
  std::string text = yaml_where(source_, at) + ": layer '" + name_ + "'";
  if (!op_.empty()) text += " (" + op_ + ")";
  if (!field.empty()) text += ", field '" + field + "'";
  throw LayerError(text + ": " + message);
}

void LayerReader::fail_at(const std::string& key, const std::string& message) const {
  const YAML::Node value = layer_[key];
  fail(value ? value.Mark() : layer_.Mark(), key, message);
}

std::string LayerReader::scalar(const std::string& key) const {
  const YAML::Node value = layer_[key];
  if (!value.IsScalar()) fail_at(key, "expected a single value, got " + describe(value));
  return value.Scalar();
}

int64_t LayerReader::integer(const std::string& key, std::optional<int64_t> fallback, int64_t min) const {
  if (!has(key)) {
    if (!fallback) fail(layer_.Mark(), key, "missing (" + op_ + " needs it)");
    return *fallback;
  }
  const std::string text = scalar(key);
  int64_t v = 0;
  try {
    v = layer_[key].as<int64_t>();
  } catch (const YAML::BadConversion&) {
    fail_at(key, "expected an integer, got '" + text + "'");
  }
  if (v < min || v > INT_MAX)
    fail_at(key, "expected an integer in [" + std::to_string(min) + ", " + std::to_string(INT_MAX) +
                     "], got " + text);
  return v;
}

double LayerReader::real(const std::string& key, std::optional<double> fallback, double min,
                         double max) const {
  if (!has(key)) {
    if (!fallback) fail(layer_.Mark(), key, "missing (" + op_ + " needs it)");
    return *fallback;
  }
  const std::string text = scalar(key);
  double v = 0;
  try {
    v = layer_[key].as<double>();
  } catch (const YAML::BadConversion&) {
    fail_at(key, "expected a number, got '" + text + "'");
  }
  if (!(v >= min && v <= max))
    fail_at(key, "expected a number in [" + std::to_string(min) + ", " + std::to_string(max) +
                     "], got " + text);
  return v;
}

bool LayerReader::boolean(const std::string& key, std::optional<bool> fallback) const {
  if (!has(key)) {
    if (!fallback) fail(layer_.Mark(), key, "missing (" + op_ + " needs it)");
    return *fallback;
  }
  const std::string text = scalar(key);
  try {
    return layer_[key].as<bool>();
  } catch (const YAML::BadConversion&) {
    fail_at(key, "expected true or false, got '" + text + "'");
  }
}

int64_t LayerCall::width(int64_t written) const {
  if (options == nullptr || last) return written;
  return layer_width(*options, attrs.name(), written);
}

namespace {
int small(const LayerReader& a, const std::string& key, std::optional<int64_t> fallback, int64_t min) {
  return static_cast<int>(a.integer(key, fallback, min));
}

// kernel, stride, padding, dilation: `k` for both sides or [kh, kw]; padding also
// [top, bottom, left, right] when each pair is equal (the kernels pad both sides alike).
Size2d size2d(const LayerReader& a, const std::string& key, std::optional<Size2d> fallback, int64_t min) {
  if (!a.has(key) && fallback) return *fallback;
  if (!a.has(key) || a.node()[key].IsScalar()) return Size2d(small(a, key, std::nullopt, min));  // or "missing"
  const YAML::Node& v = a.node()[key];
  const bool padding = key == "padding";
  if (!v.IsSequence() || !(v.size() == 2 || (padding && v.size() == 4)))
    a.fail_at(key, padding ? "expected k, [kh, kw] or [top, bottom, left, right]" : "expected k or [kh, kw]");
  std::vector<int64_t> sides;
  for (const YAML::Node& side : v) {
    int64_t n = 0;
    try {
      n = side.as<int64_t>();
    } catch (const YAML::BadConversion&) {
      a.fail(side.Mark(), key, "expected integers, got '" + (side.IsScalar() ? side.Scalar() : std::string("a list")) + "'");
    }
    if (n < min || n > 65536) a.fail(side.Mark(), key, "must be in [" + std::to_string(min) + ", 65536], got " + std::to_string(n));
    sides.push_back(n);
  }
  if (sides.size() == 4) {
    if (sides[0] != sides[1] || sides[2] != sides[3])
      a.fail_at(key, "asymmetric padding [" + std::to_string(sides[0]) + ", " + std::to_string(sides[1]) + ", " +
                         std::to_string(sides[2]) + ", " + std::to_string(sides[3]) +
                         "] is not supported (the kernels pad top and bottom, left and right alike)");
    return Size2d(static_cast<int>(sides[0]), static_cast<int>(sides[2]));
  }
  return Size2d(static_cast<int>(sides[0]), static_cast<int>(sides[1]));
}

ValueId build_conv2d(const LayerCall& c) {
  const LayerReader& a = c.attrs;
  const int64_t out = a.integer("out_channels", std::nullopt, 1);
  const Size2d kernel = size2d(a, "kernel", std::nullopt, 1);
  ConvOptions o;
  o.stride = size2d(a, "stride", 1, 1);
  o.padding = size2d(a, "padding", 0, 0);
  o.dilation = size2d(a, "dilation", 1, 1);
  o.groups = small(a, "groups", 1, 1);
  o.bias = a.boolean("bias", false);
  return c.b.conv2d(a.name(), c.inputs[0], c.width(out), kernel, o);
}

ValueId build_linear(const LayerCall& c) {
  const LayerReader& a = c.attrs;
  std::optional<int64_t> fallback;
  if (c.last && c.options != nullptr) fallback = c.options->num_classes;
  const int64_t out = a.integer("out_features", fallback, 1);
  const ValueId y = c.b.linear(a.name(), c.inputs[0], c.width(out), a.boolean("bias", true));
  return c.last ? y : c.b.gate_hidden(a.name(), y);  // never a gate on the logits
}

// Defaults: the builder's gating options (ModelOptions' when built as a zoo model).
ValueId build_gate(const LayerCall& c) {
  const GatingOptions& g = c.b.gating();
  const double temperature = c.attrs.real("temperature", g.temperature, 0, 1e6);
  if (!(temperature > 0)) c.attrs.fail_at("temperature", "must be > 0");
  const double init_logit = c.attrs.real("init_logit", g.init_logit, -1e6, 1e6);
  return c.b.gate(c.attrs.name(), c.inputs[0], temperature, init_logit,
                  c.attrs.boolean("keep_first_channel_alive", g.keep_first_channel));
}

PoolOptions pool_options(const LayerReader& a, Size2d kernel) {
  PoolOptions o;
  o.stride = size2d(a, "stride", kernel, 1);
  o.padding = size2d(a, "padding", 0, 0);
  o.ceil_mode = a.boolean("ceil_mode", false);
  return o;
}

ValueId build_maxpool2d(const LayerCall& c) {
  const Size2d kernel = size2d(c.attrs, "kernel", std::nullopt, 1);
  return c.b.maxpool2d(c.attrs.name(), c.inputs[0], kernel, pool_options(c.attrs, kernel));
}

ValueId build_avgpool2d(const LayerCall& c) {
  const Size2d kernel = size2d(c.attrs, "kernel", std::nullopt, 1);
  PoolOptions o = pool_options(c.attrs, kernel);
  o.count_include_pad = c.attrs.boolean("count_include_pad", true);
  return c.b.avgpool2d(c.attrs.name(), c.inputs[0], kernel, o);
}

ValueId build_batchnorm2d(const LayerCall& c) {
  const double eps = c.attrs.real("eps", 1e-5, 0, 1);
  const double momentum = c.attrs.real("momentum", 0.1, 0, 1);
  return c.b.batchnorm2d(c.attrs.name(), c.inputs[0], eps, momentum);
}

ValueId build_channel_pad(const LayerCall& c) {
  const LayerReader& a = c.attrs;
  return c.b.channel_pad(a.name(), c.inputs[0], a.integer("pad_before", 0, 0),
                         a.integer("pad_after", 0, 0), small(a, "stride", 1, 1));
}

ValueId build_dropout(const LayerCall& c) {
  const double p = c.attrs.real("p", 0.5, 0, 1);
  if (p >= 1) c.attrs.fail_at("p", "must be below 1 (p = 1 drops everything)");
  return c.b.dropout(c.attrs.name(), c.inputs[0], p);
}

std::map<std::string, YamlOp> make_ops() {
  using B = ModelBuilder;
  const auto unary = [](ValueId (B::*f)(const std::string&, ValueId)) {
    return YamlOp{{}, 1, 1, [f](const LayerCall& c) { return (c.b.*f)(c.attrs.name(), c.inputs[0]); }};
  };
  const auto binary = [](ValueId (B::*f)(const std::string&, ValueId, ValueId)) {
    return YamlOp{{}, 2, 2, [f](const LayerCall& c) {
                    return (c.b.*f)(c.attrs.name(), c.inputs[0], c.inputs[1]);
                  }};
  };
  const std::vector<std::string> pool{"kernel", "stride", "padding", "ceil_mode"};
  std::vector<std::string> avgpool = pool;
  avgpool.push_back("count_include_pad");
  return {
      {"conv2d",
       {{"out_channels", "kernel", "stride", "padding", "dilation", "groups", "bias"}, 1, 1,
        build_conv2d}},
      {"batchnorm2d", {{"eps", "momentum"}, 1, 1, build_batchnorm2d}},
      {"linear", {{"out_features", "bias"}, 1, 1, build_linear}},
      {"maxpool2d", {pool, 1, 1, build_maxpool2d}},
      {"avgpool2d", {avgpool, 1, 1, build_avgpool2d}},
      {"channel_pad", {{"pad_before", "pad_after", "stride"}, 1, 1, build_channel_pad}},
      {"dropout", {{"p"}, 1, 1, build_dropout}},
      {"gate", {{"temperature", "init_logit", "keep_first_channel_alive"}, 1, 1, build_gate}},
      {"relu", unary(&B::relu)},
      {"sigmoid", unary(&B::sigmoid)},
      {"relu6", unary(&B::relu6)},
      {"hardsigmoid", unary(&B::hardsigmoid)},
      {"hardswish", unary(&B::hardswish)},
      {"global_avgpool2d", unary(&B::global_avgpool2d)},
      {"flatten", unary(&B::flatten)},
      {"add", binary(&B::add)},
      {"mul", binary(&B::mul)},
      {"concat", {{}, 2, -1, [](const LayerCall& c) { return c.b.concat(c.attrs.name(), c.inputs); }}},
  };
}
}  // namespace

const std::map<std::string, YamlOp>& yaml_ops() {
  static const std::map<std::string, YamlOp> ops = make_ops();
  return ops;
}

}  // namespace mt::layers
