#pragma once
// What an optimizer updates: named parameters with their gradient buffers, and per-group option
// overrides in the spirit of PyTorch's param groups (the usual one: no weight decay on
// BatchNorm scales/shifts and biases, which decay would only pull towards zero for nothing).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/executor.h"

namespace mt {

struct ParamRef {
  std::string name;              // state_dict name, e.g. "layer1.0.bn1.weight"
  Tensor* param = nullptr;       // updated in place (the graph's Value::data)
  const Tensor* grad = nullptr;  // read each step; null = the param is skipped (no gradient)
};

// The graph's params, in graph order, bound to the executor's gradient tensors (one per param for
// the executor's lifetime, whatever the input shape).
std::vector<ParamRef> graph_params(Graph& graph, const Executor& executor);

using ParamPredicate = std::function<bool(const std::string& name)>;

// Overrides for the params a predicate selects; the first matching group wins, params matching
// none use the optimizer's own options.
struct ParamGroup {
  ParamPredicate match;
  std::optional<double> weight_decay;  // replaces the optimizer's weight decay
  double lr_scale = 1.0;               // multiplies the (scheduled) learning rate
};

// Glob patterns over names: `*` matches any run of characters (dots included), `?` one character.
// name_matches({"*.bias", "*bn*"}).
ParamPredicate name_matches(std::vector<std::string> patterns);
// Params named `*.bias`, and every param read by a batchnorm2d node (its scale and shift, whatever
// the naming): PyTorch users' usual no-decay set.
ParamPredicate bias_and_norm_params(const Graph& graph);
inline ParamGroup no_weight_decay(ParamPredicate match) { return {std::move(match), 0.0, 1.0}; }

bool glob_match(std::string_view pattern, std::string_view name);

}  // namespace mt
