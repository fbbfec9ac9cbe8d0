#pragma once
#include "core/op.h"

namespace mt {

// The option-A ResNet shortcut: subsample space by `stride` and zero-pad channels on both sides.
class ChannelPadOp : public Op {
 public:
  explicit ChannelPadOp(ChannelPadDesc desc) : desc_(desc) {}
  OpKind kind() const override { return OpKind::channel_pad; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override;
  void forward(OpContext& ctx) const override {
    ctx.backend.channel_pad_fwd(desc_, ctx.in(0), ctx.out(0));
  }
  void backward(OpContext& ctx) const override {
    ctx.backend.channel_pad_bwd(desc_, ctx.dout(0), ctx.din(0));
  }
  bool backward_reads_input(size_t) const override { return false; }
  bool backward_reads_output(size_t, bool) const override { return false; }
  nlohmann::json attributes() const override {
    return {{"pad_before", desc_.pad_before}, {"pad_after", desc_.pad_after}, {"stride", desc_.stride}};
  }
  const ChannelPadDesc& desc() const { return desc_; }

 private:
  ChannelPadDesc desc_;
};

}  // namespace mt
