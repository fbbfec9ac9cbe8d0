#include "core/ops/channel_pad.h"

namespace mt {

std::vector<Shape> ChannelPadOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == 1 && in[0].rank() == 4, ShapeError, "[channel_pad] expects one rank-4 input");
  MT_CHECK(desc_.stride >= 1 && desc_.pad_before >= 0 && desc_.pad_after >= 0, ShapeError,
           "[channel_pad] stride must be positive and padding non-negative");
  const Shape& x = in[0];
  const int64_t s = desc_.stride;
  return {Shape{x[0], x[1] + desc_.pad_before + desc_.pad_after, (x[2] + s - 1) / s, (x[3] + s - 1) / s}};
}

}  // namespace mt
