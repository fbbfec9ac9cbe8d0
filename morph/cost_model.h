#pragma once
// The resource an op costs as a function of how many of its input and output channels are alive
// (MorphNet's resource_function.py + cost_calculator.py), for one sample unless stated.
//
// For an op with A_in alive input channels and A_out alive output channels:
//   flops       conv2d  2 x Ho x Wo x kH x kW / groups x A_in x A_out      (= 2 x MACs)
//               depthwise conv2d  2 x Ho x Wo x kH x kW x A_out
//               linear  2 x A_in x A_out             (A_in counts input features)
//   model_size  conv2d  kH x kW / groups x A_in x A_out; depthwise kH x kW x A_out;
//               linear  A_in x A_out;  + A_out per bias when count_bias (MorphNet: weights only)
//   latency     max(compute, memory), MorphNet's roofline, in ns with tables in GFLOP/s and GB/s:
//               compute = batch x flops / peak_gflops
//               memory  = (batch x (in_bytes x A_in + out_bytes x A_out) + weight bytes) / memory_gbps
//               in_bytes / out_bytes: bytes of one channel of one sample (H x W x dtype size),
//               summed over the op's activation inputs; weight bytes: kH x kW / groups x dtype size
//               x A_in x A_out (depthwise: x A_out). Ops: conv2d, linear, add, concat, batchnorm2d,
//               mul, relu, gate (MorphNet's SUPPORTED_OPS); concat's input side is its output.
//               With a measured table (Hardware::measured, morph/latency_table.h), a conv2d or
//               linear found in it costs its interpolated latency, and its term coefficients are
//               the table's slopes there (the measured marginal latency of a channel).
//
// The regularization term of an op replaces each count, in turn, by the sum of the regularization
// vector over the same channels (R_in, R_out), with the counts held constant:
//   bilinear  c x A_in x A_out  ->  c x (A_in x R_out + A_out x R_in)
//   depthwise c x A_out         ->  c x (R_in + R_out)          (MorphNet's symmetric form)
//   linear    c x A             ->  c x R
//   latency   the branch (compute or memory) that is larger for the current counts.
// So every term is k_in x R_in + k_out x R_out with k_in, k_out depending on the counts only:
// OpCost carries (cost, k_in, k_out).
#include <cstdint>
#include <string>
#include <vector>

#include "morph/channel_groups.h"
#include "morph/hardware.h"

namespace mt::morph {

enum class CostTarget : uint8_t { flops, model_size, latency };

// "flops", "model_size", "latency"; throws ConfigError otherwise.
CostTarget parse_cost_target(const std::string& name);
std::string cost_target_name(CostTarget t);

struct CostOptions {
  CostTarget target = CostTarget::flops;
  Hardware hardware = hardware_by_name("V100");  // latency only
  int64_t batch_size = 1;                         // latency only (MorphNet's batch_size)
  bool count_bias = false;                        // model_size: add conv/linear biases
};

// The channels on one side of an op: how many of them each group holds, and how many cannot be
// removed.
struct OpChannels {
  struct Count {
    int group;
    int64_t count;
  };
  std::vector<Count> groups;
  int64_t fixed = 0;
  int64_t total = 0;
  double alive(const std::vector<bool>& group_alive) const;
  double sum(const std::vector<double>& group_values) const;
};

// What the cost of one op depends on, fixed by the graph.
struct CostOp {
  int node = -1;
  std::string name, kind;
  OpChannels in, out;
  bool depthwise = false;
  double flop_coeff = 0;    // 2 x Ho x Wo x kH x kW / groups; 2 for linear; 0 for the rest
  double weight_coeff = 0;  // kH x kW / groups; 1 for linear
  bool has_bias = false;
  double in_bytes = 0, out_bytes = 0, weight_bytes = 0;  // see the latency formula above
  std::string shape_key;  // conv2d and linear: the layer's key in a measured latency table
};

struct OpCost {
  double cost = 0;
  double k_in = 0, k_out = 0;  // term = k_in x R_in + k_out x R_out
};

class CostModel {
 public:
  CostModel(const ChannelGroups& groups, CostOptions options);

  const std::vector<CostOp>& ops() const { return ops_; }
  const CostOptions& options() const { return options_; }
  // "FLOPs", "ModelSize", "V100 Latency" (MorphNet's cost_name).
  std::string cost_name() const;

  OpCost op_cost(const CostOp& op, double alive_in, double alive_out) const;
  // Per op, for the channels `group_alive` keeps.
  std::vector<OpCost> op_costs(const std::vector<bool>& group_alive) const;
  double cost(const std::vector<bool>& group_alive) const;
  // Every channel alive: the cost of the network as built.
  double full_cost() const;
  int num_groups() const { return num_groups_; }

 private:
  CostOptions options_;
  int num_groups_;
  std::vector<CostOp> ops_;
};

}  // namespace mt::morph
