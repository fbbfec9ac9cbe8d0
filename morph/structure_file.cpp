#include "morph/structure_file.h"

#include <cstdint>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/json_read.h"
#include "morph/width_expansion.h"

namespace mt::morph {

namespace {

constexpr const char* kFormat = "morphtrain.structure";

// The copies of each output channel of a layer under the selection (channels of no group: 1).
std::vector<int64_t> channel_copies(const ChannelGroups& groups, const ChannelSelection& s, int node) {
  std::vector<int64_t> out;
  for (int g : groups.channel_groups(groups.graph().node(node).outputs[0]))
    out.push_back(g == ChannelGroups::kNone ? 1 : s.copies.at(g));
  return out;
}

// A count or index from the file. NB: nlohmann's get<int64_t>() of a float such as 1e300 is a
// float-to-integer conversion out of range, undefined behaviour (found by tests/fuzz); and of an
// unsigned above 2^63 it wraps. Only integers that fit are numbers here.
int64_t integer(const nlohmann::json& v, const std::string& what) {
  const bool fits = v.is_number_integer() &&
                    (!v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX));
  MT_CHECK(fits, ConfigError, "structure file: ", what, " must be an integer, found ", describe_json(v));
  return v.get<int64_t>();
}

// MorphNet's layer -> count map.
std::map<std::string, int64_t> layer_counts(const nlohmann::json& j) {
  MT_CHECK(j.is_object(), ConfigError, "structure file: layer counts must be an object, found ", describe_json(j));
  std::map<std::string, int64_t> out;
  for (const auto& [name, count] : j.items()) out[name] = integer(count, "the count of layer '" + name + "'");
  return out;
}

ChannelSelection from_layers(const nlohmann::json& layers, const ChannelGroups& groups) {
  MT_CHECK(layers.is_object(), ConfigError, "structure file: \"layers\" must be an object");
  std::map<std::string, std::vector<int64_t>> copies;
  for (const auto& [name, entry] : layers.items()) {
    const int node = groups.graph().find_node(name);
    MT_CHECK(node >= 0 && is_width_layer(groups, node), ConfigError, "structure file: layer '",
             name, "' is not a conv or hidden linear layer of this model");
    const int64_t width =
        static_cast<int64_t>(groups.channel_groups(groups.graph().node(node).outputs[0]).size());
    MT_CHECK(entry.is_object() && entry.contains("width") && entry.contains("channels") &&
                 entry["channels"].is_array(),
             ConfigError, "structure file: layer '", name, "' needs \"width\" and a \"channels\" list");
    const int64_t file_width = integer(entry["width"], "\"width\" of layer '" + name + "'");
    MT_CHECK(file_width == width, ConfigError, "structure file: layer '", name, "' has ", width,
             " channels in this model, ", file_width, " in the file (another config?)");
    std::vector<int64_t>& per_channel = copies[name];
    per_channel.assign(width, 0);
    for (const nlohmann::json& c : entry["channels"]) {
      const int64_t index = integer(c, "a channel of layer '" + name + "'");
      MT_CHECK(index >= 0 && index < width, ConfigError, "structure file: layer '", name,
               "' lists channel ", index, " of ", width);
      ++per_channel[index];
    }
  }
  return selection_from_layer_copies(groups, copies);
}

}  // namespace

nlohmann::json structure_to_json(const ChannelSelection& s, const layers::Model& dense) {
  const ChannelGroups groups(dense.graph, dense.logits);
  MT_CHECK(s.num_groups() == groups.num_groups(), ShapeError, "[reshape] the selection has ",
           s.num_groups(), " channel groups, model '", dense.name, "' ", groups.num_groups());
  nlohmann::json counts = nlohmann::json::object(), layers = nlohmann::json::object();
  for (int n : groups.nodes()) {
    if (!is_width_layer(groups, n)) continue;
    const std::vector<int64_t> copies = channel_copies(groups, s, n);
    nlohmann::json channels = nlohmann::json::array();
    int64_t width = 0;
    for (size_t c = 0; c < copies.size(); ++c)
      for (int64_t k = 0; k < copies[c]; ++k, ++width) channels.push_back(c);
    const std::string& name = dense.graph.node(n).name;
    counts[name] = width;
    layers[name] = {{"width", copies.size()}, {"channels", std::move(channels)}};
  }
  return {{"format", kFormat},     {"version", 1},
          {"model", dense.name},   {"groups", groups.num_groups()},
          {"learned_structure", counts}, {"layers", layers}};
}

ChannelSelection structure_from_json(const nlohmann::json& j, const layers::Model& dense) {
  const ChannelGroups groups(dense.graph, dense.logits);
  MT_CHECK(j.is_object(), ConfigError, "structure file: expected a JSON object");
  if (!j.contains("format")) {  // MorphNet's learned_structure.json: layer -> count
    return selection_from_counts(groups, layer_counts(j));
  }
  MT_CHECK(j.at("format") == kFormat, ConfigError, "structure file: format '",
           describe_json(j.at("format")), "', expected \"", kFormat, "\"");
  const int64_t file_groups = j.contains("groups") ? integer(j["groups"], "\"groups\"") : groups.num_groups();
  MT_CHECK(file_groups == groups.num_groups(), ConfigError, "structure file: written for a model with ",
           file_groups, " channel groups; model '", dense.name, "' has ", groups.num_groups(),
           " (another config?)");
  if (j.contains("layers")) return from_layers(j.at("layers"), groups);
  MT_CHECK(j.contains("learned_structure"), ConfigError, "structure file: neither \"layers\" nor \"learned_structure\"");
  return selection_from_counts(groups, layer_counts(j["learned_structure"]));
}

void write_structure(const std::string& path, const ChannelSelection& s, const layers::Model& dense) {
  write_file_atomically(path, structure_to_json(s, dense).dump(2) + "\n");
}

ChannelSelection parse_structure(const std::string& text, const std::string& source, const layers::Model& dense) {
  std::string why;
  const std::optional<nlohmann::json> j = try_parse_json(text, why);
  MT_CHECK(j, ConfigError, "structure file '", source, "': ", why);
  return structure_from_json(*j, dense);
}

ChannelSelection read_structure(const std::string& path, const layers::Model& dense) {
  const std::optional<std::string> text = read_text_file(path);
  MT_CHECK(text, IoError, "cannot read structure file '", path, "'");
  return parse_structure(*text, path, dense);
}

}  // namespace mt::morph
