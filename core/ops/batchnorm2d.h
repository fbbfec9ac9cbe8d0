#pragma once
#include "core/op.h"

namespace mt {

// Inputs: x [N, C, H, W], weight [C], bias [C], running_mean [C], running_var [C],
// num_batches_tracked [] (i64). Train mode normalises with batch statistics and updates the
// running ones; eval mode uses the running ones.
class BatchNorm2dOp : public Op {
 public:
  explicit BatchNorm2dOp(BatchNormDesc desc) : desc_(desc) {}
  OpKind kind() const override { return OpKind::batchnorm2d; }
  InputRole input_role(size_t i) const override {
    static constexpr InputRole kRoles[] = {InputRole::data,         InputRole::weight,
                                           InputRole::bias,         InputRole::running_mean,
                                           InputRole::running_var,  InputRole::num_batches_tracked};
    return i < 6 ? kRoles[i] : InputRole::data;
  }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override;
  void backward(OpContext& ctx) const override;
  bool differentiable_input(int i) const override { return i <= 2; }
  bool fuses_relu() const override { return true; }
  // From x and the statistics the training forward saved (one pass, no running statistics touched).
  bool recomputable(const KernelBackend& backend) const override { return backend.recomputes_batchnorm(); }
  void recompute(OpContext& ctx) const override;
  bool backward_reads_output(size_t, bool fused_relu) const override { return fused_relu; }  // the mask
  nlohmann::json attributes() const override { return {{"eps", desc_.eps}, {"momentum", desc_.momentum}}; }
  const BatchNormDesc& desc() const { return desc_; }

 private:
  BatchNormDesc desc_;
};

}  // namespace mt
