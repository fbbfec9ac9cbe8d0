#include "morph/compactors.h"

#include "core/graph_queries.h"
#include "core/ops/conv2d.h"

namespace mt::morph {

namespace {

CompactorInfo describe(const ChannelGroups& groups, int node) {
  const Graph& g = groups.graph();
  const Node& n = g.node(node);
  CompactorInfo info;
  info.node = node;
  info.weight = n.inputs.at(1);
  int producer = g.producer(n.inputs[0]);
  if (producer >= 0 && g.node(producer).op->kind() == OpKind::batchnorm2d) {
    MT_CHECK(only_reader(g, g.node(producer).outputs[0]) == node, ShapeError, "[resrep] compactor '",
             n.name, "': its batch norm's output is read by other ops too; it cannot be folded");
    info.batchnorm = producer;
    producer = g.producer(g.node(producer).inputs[0]);
  }
  const Node* conv = producer >= 0 ? &g.node(producer) : nullptr;
  MT_CHECK(conv && conv->op->kind() == OpKind::conv2d &&
               dynamic_cast<const Conv2dOp&>(*conv->op).desc().groups == 1,
           ShapeError, "[resrep] compactor '", n.name,
           "' must follow a conv2d with groups 1, directly or through one batch norm");
  MT_CHECK(only_reader(g, conv->outputs[0]) == (info.batchnorm >= 0 ? info.batchnorm : node), ShapeError,
           "[resrep] compactor '", n.name, "': the output of conv '", conv->name,
           "' is read by other ops too; it cannot be folded");
  info.conv = producer;
  info.row_group = groups.channel_groups(n.outputs[0]);
  return info;
}

}  // namespace

std::vector<CompactorInfo> find_compactors(const ChannelGroups& groups) {
  std::vector<CompactorInfo> out;
  for (int node : groups.nodes())
    if (groups.graph().node(node).op->kind() == OpKind::compactor) out.push_back(describe(groups, node));
  return out;
}

std::vector<bool> resrep_prunable(const ChannelGroups& groups, const std::vector<CompactorInfo>& compactors) {
  std::vector<bool> has_compactor(groups.graph().nodes().size(), false);
  for (const CompactorInfo& c : compactors) has_compactor[c.conv] = true;
  std::vector<bool> prunable(groups.num_groups(), false);
  for (int g = 0; g < groups.num_groups(); ++g) {
    const ChannelGroup& grp = groups.group(g);
    bool ok = !grp.compactors.empty();
    for (const ChannelRef& r : grp.convs) ok = ok && has_compactor[r.node];
    prunable[g] = ok;
  }
  return prunable;
}

}  // namespace mt::morph
