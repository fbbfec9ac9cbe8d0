// Reads the layer list of a YAML graph: names, ops, inputs and unknown keys are checked here,
// each op's attributes in yaml_graph_ops.cpp.
#include "layers/yaml_graph.h"

#include <algorithm>

#include "layers/yaml_graph_ops.h"
#include "layers/zoo/model.h"

namespace mt::layers {

namespace {
const std::vector<std::string> kLayerKeys{"name", "op", "inputs"};

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

std::string suggestion(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string near = did_you_mean(word, candidates);
  return near.empty() ? "" : " (did you mean '" + near + "'?)";
}

// The layer list: the document itself, or its `layers:` entry.
YAML::Node layer_list(const YAML::Node& doc, const std::string& source) {
  if (doc.IsMap()) {
    for (const auto& kv : doc) {
      const std::string key = kv.first.Scalar();
      if (key != "layers" && key != "name" && key != "description")
        throw LayerError(yaml_where(source, kv.first.Mark()) + ": unknown key '" + key + "'" +
                         suggestion(key, {"layers", "name", "description"}) +
                         "; a graph file is a list of layers or a map with 'layers:'");
    }
    if (!doc["layers"])
      throw LayerError(yaml_where(source, doc.Mark()) + ": the graph has no 'layers:' list");
    return doc["layers"];
  }
  if (!doc.IsSequence() || doc.size() == 0)
    throw LayerError(yaml_where(source, doc.Mark()) + ": expected a non-empty list of layers " +
                     "({name, op, inputs, ...}), got " + (doc.IsSequence() ? "an empty list" : "no list"));
  return doc;
}

// Where every layer name is defined, to tell a forward reference from a typo.
std::map<std::string, YAML::Mark> layer_names(const YAML::Node& layers) {
  std::map<std::string, YAML::Mark> names;
  for (const auto& layer : layers)
    if (layer.IsMap() && layer["name"] && layer["name"].IsScalar())
      names.emplace(layer["name"].Scalar(), layer["name"].Mark());
  return names;
}

class GraphReader {
 public:
  GraphReader(ModelBuilder& b, ValueId images, const YAML::Node& layers, const std::string& source,
              const ModelOptions* options)
      : b_(b), layers_(layers), source_(source), options_(options), all_names_(layer_names(layers)) {
    values_["images"] = images;
    previous_ = images;
  }

  ValueId read() {
    for (size_t i = 0; i < layers_.size(); ++i) previous_ = read_layer(layers_[i], i);
    return previous_;
  }

 private:
  ValueId read_layer(const YAML::Node& layer, size_t index);
  std::string required_text(const YAML::Node& layer, const std::string& key, const std::string& label) const;
  std::vector<ValueId> inputs(const LayerReader& r, const YamlOp& op) const;
  ValueId input(const LayerReader& r, const YAML::Node& name) const;
  void check_keys(const LayerReader& r, const YamlOp& op) const;
  void check_logits(const LayerReader& r, ValueId logits) const;

  ModelBuilder& b_;
  YAML::Node layers_;
  const std::string& source_;
  const ModelOptions* options_;
  std::map<std::string, YAML::Mark> all_names_;
  std::map<std::string, ValueId> values_;  // layer name -> its output
  ValueId previous_;
};

std::string GraphReader::required_text(const YAML::Node& layer, const std::string& key,
                                       const std::string& label) const {
  const YAML::Node v = layer[key];
  if (!v || !v.IsScalar() || v.Scalar().empty())
    throw LayerError(yaml_where(source_, v ? v.Mark() : layer.Mark()) + ": " + label + ", field '" +
                     key + "': " + (v ? "expected a name" : "missing"));
  return v.Scalar();
}

ValueId GraphReader::read_layer(const YAML::Node& layer, size_t index) {
  const std::string label = "layer #" + std::to_string(index + 1);
  if (!layer.IsMap())
    throw LayerError(yaml_where(source_, layer.Mark()) + ": " + label +
                     ": expected a map {name, op, inputs, ...}");
  const std::string name = required_text(layer, "name", label);
  const std::string op_name = required_text(layer, "op", label + " '" + name + "'");
  const LayerReader r(layer, name, op_name, source_);
  const auto& ops = yaml_ops();
  const auto op = ops.find(op_name);
  if (op == ops.end())
    r.fail_at("op", "unknown op" + suggestion(op_name, yaml_graph_ops()) + "; known: " +
                        join(yaml_graph_ops()));
  if (values_.count(name))
    r.fail_at("name", name == "images" ? "'images' names the network's input"
                                       : "duplicate layer name (first defined at " +
                                             yaml_where(source_, all_names_.at(name)) + ")");
  if (b_.graph().find(name) >= 0) r.fail_at("name", "the graph already has a value of this name");
  if (options_ != nullptr && name == "loss") r.fail_at("name", "'loss' names the model's loss");
  check_keys(r, op->second);
  const LayerCall call{b_, r, inputs(r, op->second), options_, index + 1 == layers_.size()};
  ValueId out = -1;
  try {
    out = op->second.build(call);
  } catch (const LayerError&) {
    throw;
  } catch (const Error& e) {
    // The builder's messages start with the layer's name, which ours already carries.
    std::string message = e.what();
    const std::string prefix = "layer '" + name + "': ";
    if (message.rfind(prefix, 0) == 0) message = message.substr(prefix.size());
    r.fail(layer.Mark(), "", message);
  }
  if (call.last) check_logits(r, out);
  values_[name] = out;
  return out;
}

void GraphReader::check_keys(const LayerReader& r, const YamlOp& op) const {
  std::vector<std::string> known = kLayerKeys;
  known.insert(known.end(), op.attributes.begin(), op.attributes.end());
  for (const auto& kv : r.node()) {
    const std::string key = kv.first.Scalar();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    r.fail(kv.first.Mark(), key,
           "unknown attribute" + suggestion(key, known) + "; " + r.op() + " takes " +
               (op.attributes.empty() ? "no attributes" : join(op.attributes)));
  }
}

std::vector<ValueId> GraphReader::inputs(const LayerReader& r, const YamlOp& op) const {
  std::vector<ValueId> out;
  const YAML::Node names = r.node()["inputs"];
  if (!names) {
    out.push_back(previous_);
  } else if (names.IsScalar()) {
    out.push_back(input(r, names));
  } else if (names.IsSequence()) {
    for (const auto& n : names) out.push_back(input(r, n));
  } else {
    r.fail_at("inputs", "expected a list of layer names");
  }
  const int n = static_cast<int>(out.size());
  if (n < op.min_inputs || (op.max_inputs >= 0 && n > op.max_inputs)) {
    const std::string want = op.max_inputs < 0 ? "at least " + std::to_string(op.min_inputs)
                                                : std::to_string(op.min_inputs);
    r.fail(names ? names.Mark() : r.node().Mark(), "inputs",
           r.op() + " takes " + want + " input(s), got " + std::to_string(n) +
               (names ? "" : " (the previous layer's output; list them in 'inputs')"));
  }
  return out;
}

ValueId GraphReader::input(const LayerReader& r, const YAML::Node& name) const {
  if (!name.IsScalar()) r.fail(name.Mark(), "inputs", "expected a layer name");
  const std::string n = name.Scalar();
  const auto it = values_.find(n);
  if (it != values_.end()) return it->second;
  if (n == r.name()) r.fail(name.Mark(), "inputs", "a layer cannot read its own output");
  if (all_names_.count(n))
    r.fail(name.Mark(), "inputs",
           "'" + n + "' is defined later (at " + yaml_where(source_, all_names_.at(n)) +
               "); a layer reads only layers above it");
  std::vector<std::string> known;
  for (const auto& kv : values_) known.push_back(kv.first);
  r.fail(name.Mark(), "inputs", "unknown input '" + n + "'" + suggestion(n, known));
}

void GraphReader::check_logits(const LayerReader& r, ValueId logits) const {
  if (options_ == nullptr) return;
  const Shape& s = b_.shape(logits);
  if (s.rank() != 2 || s[1] != options_->num_classes)
    r.fail(r.node().Mark(), "",
           "the last layer gives the logits, of shape [N, " + std::to_string(options_->num_classes) +
               "] for " + std::to_string(options_->num_classes) + " classes, but its output is " +
               s.str() + " (hint: end with a linear layer and leave out out_features)");
}
}  // namespace

ValueId build_yaml_graph(ModelBuilder& b, ValueId images, const YAML::Node& layers,
                         const std::string& source_name, const ModelOptions* options) {
  const YAML::Node list = layer_list(layers, source_name);
  return GraphReader(b, images, list, source_name, options).read();
}

YAML::Node load_yaml_graph(const std::string& path) { return load_yaml_file(path, "graph file"); }

std::vector<std::string> yaml_graph_ops() {
  std::vector<std::string> names;
  for (const auto& kv : yaml_ops()) names.push_back(kv.first);
  return names;
}

}  // namespace mt::layers
