#include "morph/liked_widths.h"

#include <cmath>

namespace mt::morph {

std::vector<int64_t> liked_widths(const LatencyEntry& e, double tolerance) {
  const std::vector<double>& ns = e.ns.back();  // at the dense input width
  std::vector<int64_t> liked;
  double cheapest_wider = INFINITY;  // over the widths already passed, walking down from the widest
  for (size_t j = e.out.size(); j-- > 0;) {
    if (ns[j] * (1 + tolerance) < cheapest_wider) liked.push_back(std::llround(e.out[j]));
    cheapest_wider = std::min(cheapest_wider, ns[j]);
  }
  return {liked.rbegin(), liked.rend()};
}

std::map<std::string, std::vector<int64_t>> liked_widths_by_layer(const CostModel& costs, const LatencyTable& table,
                                                                  double tolerance) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const CostOp& op : costs.ops()) {
    if (op.shape_key.empty()) continue;
    if (const LatencyEntry* e = table.find(op.shape_key)) out[op.name] = liked_widths(*e, tolerance);
  }
  return out;
}

}  // namespace mt::morph
