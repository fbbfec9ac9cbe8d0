#include "morph/masked_constants.h"

#include "morph/constant_propagation.h"
#include "morph/handlers/op_handler.h"

namespace mt::morph {

std::vector<Channels> ConstantPropagation::run() {
  for (ValueId in : g_.inputs()) c_[in].assign(channels(in), kVaries);
  for (int node : groups_.nodes()) {
    const Node& n = g_.node(node);
    c_[n.outputs[0]] = handler_for(g_, node).constants(*this, node);
    for (size_t o = 1; o < n.outputs.size(); ++o) c_[n.outputs[o]].assign(channels(n.outputs[o]), kVaries);
  }
  return std::move(c_);
}

std::vector<std::vector<double>> masked_constants(const ChannelGroups& groups, const std::vector<bool>& masked) {
  MT_CHECK(static_cast<int>(masked.size()) == groups.num_groups(), ShapeError, "[resrep] ", masked.size(),
           " mask bits for ", groups.num_groups(), " channel groups");
  return ConstantPropagation(groups, masked).run();
}

}  // namespace mt::morph
