#include "morph/structure_export.h"

#include "core/atomic_file.h"
#include "morph/handlers/op_handler.h"

namespace mt::morph {

namespace {

// Whether any output channel of the node is in a group the method regularizes (MorphNet exports
// only ops that have a regularizer).
bool regularized_output(const NetworkRegularizer& reg, const GroupState& s, int node) {
  for (int g : reg.groups().channel_groups(reg.groups().graph().node(node).outputs[0]))
    if (g != ChannelGroups::kNone && s.regularized[g]) return true;
  return false;
}

bool exported_kind(const ChannelGroups& groups, int node) {
  const Node& n = groups.graph().node(node);
  if (n.outputs[0] == groups.logits()) return false;
  return handler_for(groups.graph(), node).role(groups, node) == ChannelRole::filters;
}

nlohmann::json group_entries(const NetworkRegularizer& reg, const GroupState& s) {
  const ChannelGroups& groups = reg.groups();
  const SourceKind kind = source_kind(reg.options().method);
  nlohmann::json out = nlohmann::json::array();
  for (int g = 0; g < groups.num_groups(); ++g) {
    nlohmann::json members = nlohmann::json::array();
    for (const ChannelRef& r : groups.group(g).sources(kind))
      members.push_back(groups.graph().node(r.node).name + "[" + std::to_string(r.channel) + "]");
    out.push_back({{"id", g}, {"name", groups.group_name(g)}, {"alive", static_cast<bool>(s.alive[g])},
                   {"regularization", s.reg[g]}, {"sources", members}});
  }
  return out;
}

}  // namespace

nlohmann::json learned_structure(const NetworkRegularizer& reg) {
  const ChannelGroups& groups = reg.groups();
  const GroupState s = reg.group_regularizer().evaluate();
  nlohmann::json out = nlohmann::json::object();  // an ordered map: keys come out sorted
  for (int n : groups.nodes()) {
    if (!exported_kind(groups, n) || !regularized_output(reg, s, n)) continue;
    int64_t alive = 0;
    for (int g : groups.channel_groups(groups.graph().node(n).outputs[0]))
      alive += g == ChannelGroups::kNone || s.alive[g];
    out[groups.graph().node(n).name] = alive;
  }
  return out;
}

nlohmann::json structure_report(const NetworkRegularizer& reg) {
  const Evaluation e = reg.evaluate();
  nlohmann::json ops = nlohmann::json::array();
  for (const OpReport& r : reg.op_reports())
    ops.push_back({{"name", r.name}, {"kind", r.kind}, {"in", r.in}, {"alive_in", r.alive_in},
                   {"out", r.out}, {"alive_out", r.alive_out}, {"cost", r.cost}, {"term", r.term}});
  nlohmann::json vectors = nlohmann::json::object();
  for (const auto& [name, bits] : reg.alive_vectors()) {
    nlohmann::json v = nlohmann::json::array();
    for (bool b : bits) v.push_back(b ? 1 : 0);
    vectors[name] = v;
  }
  int64_t alive_groups = 0;
  for (bool a : e.groups.alive) alive_groups += a;
  return {{"regularizer", reg.name()},
          {"method", method_name(reg.options().method)},
          {"target", cost_target_name(reg.options().target)},
          {"cost_name", reg.cost_name()},
          {"threshold", reg.group_regularizer().threshold()},
          {"term", e.term},
          {"cost", e.cost},
          {"full_cost", reg.full_cost()},
          {"cost_fraction", reg.full_cost() > 0 ? e.cost / reg.full_cost() : 1.0},
          {"groups", reg.groups().num_groups()},
          {"alive_groups", alive_groups},
          {"learned_structure", learned_structure(reg)},
          {"ops", ops},
          {"alive_vectors", vectors},
          {"channel_groups", group_entries(reg, e.groups)}};
}

void write_learned_structure(const std::string& path, const NetworkRegularizer& reg) {
  write_file_atomically(path, learned_structure(reg).dump(2) + "\n");
}

void write_structure_report(const std::string& path, const NetworkRegularizer& reg) {
  write_file_atomically(path, structure_report(reg).dump(2) + "\n");
}

}  // namespace mt::morph
