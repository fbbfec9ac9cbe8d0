#pragma once
#include "core/op.h"

namespace mt {

// Inputs: x [N, C, H, W], weight [C], bias [C], running_mean [C], running_var [C],
// num_batches_tracked [] (i64). Train mode normalises with batch statistics and updates the
// running ones; eval mode uses the running ones.
class BatchNorm2dOp : public Op {
 public:
  explicit BatchNorm2dOp(BatchNormDesc desc) : desc_(desc) {}
  std::string_view kind() const override { return "batchnorm2d"; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override;
  void backward(OpContext& ctx) const override;
  bool differentiable_input(int i) const override { return i <= 2; }
  bool fuses_relu() const override { return true; }
  nlohmann::json attributes() const override { return {{"eps", desc_.eps}, {"momentum", desc_.momentum}}; }
  const BatchNormDesc& desc() const { return desc_; }

 private:
  BatchNormDesc desc_;
};

}  // namespace mt
