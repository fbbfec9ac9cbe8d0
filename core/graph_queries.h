#pragma once
// Questions about a graph's structure that several passes ask (morph, the executor's fusion, the
// exporters): asked here, once. Each is a pure function of the graph.
#include <vector>

#include "core/graph.h"

namespace mt {

// Whether v carries data that flows through the network (an input or an op's output), as
// opposed to a parameter or a buffer.
bool is_activation_value(const Graph& g, ValueId v);

// Per node: whether `output` depends on it (MorphNet's crawl from the output boundary back to
// the inputs). The loss, labels and anything beside the path to `output` are false.
std::vector<bool> nodes_feeding(const Graph& g, ValueId output);
// The same nodes as a list, in graph (topological) order.
std::vector<int> nodes_behind(const Graph& g, ValueId output);

// The input of `node` that plays `role` (the batch norm's running mean, the conv's bias, ...);
// -1 where the op has no such input.
ValueId input_of(const Graph& g, int node, InputRole role);
// The same, throwing a ShapeError naming the node and the role when it is absent.
ValueId required_input(const Graph& g, int node, InputRole role);

// The node that alone reads v, or -1 when none or several do.
int only_reader(const Graph& g, ValueId v);

// The batch norm that alone reads v as its data: the link of a conv -> batch norm chain that the
// executor and the ONNX exporter fold, and that builders and ResRep follow; -1 when there is none.
int batchnorm_reading(const Graph& g, ValueId v);

}  // namespace mt
