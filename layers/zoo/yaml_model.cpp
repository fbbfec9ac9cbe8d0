// The "yaml" model: a network written in the YAML graph format (layers/yaml_graph.h), given in
// ModelOptions.graph_spec or read from the file ModelOptions.graph_source. Width keys: the
// names of its conv2d and hidden linear layers.
#include "layers/yaml_graph.h"
#include "layers/zoo/zoo_models.h"

namespace mt::layers {

ValueId build_yaml_model(ModelBuilder& b, ValueId x, const ModelOptions& o) {
  const bool has_spec = o.graph_spec.IsDefined() && !o.graph_spec.IsNull();
  MT_CHECK(has_spec || !o.graph_source.empty(), ConfigError,
           "model 'yaml' needs a graph: a YAML layer list in graph_spec or a file in graph_source");
  const std::string source = o.graph_source.empty() ? "<graph_spec>" : o.graph_source;
  const YAML::Node spec = has_spec ? o.graph_spec : load_yaml_graph(o.graph_source);
  return build_yaml_graph(b, x, spec, source, &o);
}

}  // namespace mt::layers
