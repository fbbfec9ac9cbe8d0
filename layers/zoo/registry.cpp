#include <cmath>

#include "layers/zoo/model.h"
#include "layers/zoo/zoo_models.h"

namespace mt::layers {

namespace {
std::map<std::string, ModelFn>& registry() {
  static std::map<std::string, ModelFn> models = [] {
    std::map<std::string, ModelFn> m;
    register_builtin_models(m);
    return m;
  }();
  return models;
}
}  // namespace

int64_t layer_width(const ModelOptions& o, const std::string& layer, int64_t base) {
  auto it = o.widths.find(layer);
  if (it != o.widths.end()) {
    MT_CHECK(it->second >= 1, ConfigError, "width of layer '", layer, "' must be >= 1, got ",
             it->second);
    return it->second;
  }
  return std::max<int64_t>(1, std::llround(static_cast<double>(base) * o.width_multiplier));
}

GatingOptions gating_options(const ModelOptions& o) {
  MT_CHECK(!o.gating || (std::isfinite(o.gate_temperature) && o.gate_temperature > 0), ConfigError,
           "gate_temperature must be > 0, got ", o.gate_temperature);
  return {o.gating, o.gate_temperature, o.gate_init_logit, o.gate_keep_first_channel};
}

void register_model(const std::string& name, ModelFn fn) { registry()[name] = std::move(fn); }

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : registry()) names.push_back(name);
  return names;
}

Model build_model(const std::string& name, const ModelOptions& options) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    MT_FAIL(ConfigError, "unknown model '", name, "' (known: ", known, ")");
  }
  MT_CHECK(options.width_multiplier > 0, ConfigError, "width_multiplier must be > 0");
  Model model;
  model.name = name;
  ModelBuilder b(model.graph, options.seed, options.dtype);
  b.set_gating(gating_options(options));
  MT_CHECK(!(options.gating && options.compactors), ConfigError,
           "gating and compactors belong to two structure-learning methods; enable one");
  b.set_compactors(options.compactors);
  model.images = b.input("images", {options.in_channels, options.image_size,
                                    options.image_width > 0 ? options.image_width : options.image_size});
  model.labels = b.labels("labels");
  model.logits = it->second(b, model.images, options);
  model.loss = b.cross_entropy("loss", model.logits, model.labels, options.label_smoothing);
  model.graph.mark_output(model.logits);
  model.graph.mark_output(model.loss);
  return model;
}

}  // namespace mt::layers
