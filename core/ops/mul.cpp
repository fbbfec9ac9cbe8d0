#include "core/ops/mul.h"

namespace mt {

std::vector<Shape> MulOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == 2, ShapeError, "[mul] expects 2 inputs, got ", in.size());
  const Shape& a = in[0];
  const Shape& b = in[1];
  const bool same = a == b;
  // [N, C, 1, 1]: squeeze-excitation as ONNX writes it (GlobalAveragePool keeps H = W = 1).
  const bool per_channel =
      a.rank() == 4 && ((b.rank() == 1 && b[0] == a[1]) ||
                        (b.rank() == 2 && b[0] == a[0] && b[1] == a[1]) ||
                        (b.rank() == 4 && b[0] == a[0] && b[1] == a[1] && b[2] == 1 && b[3] == 1));
  MT_CHECK(same || per_channel, ShapeError, "[mul] b ", b.str(), " must equal a ", a.str(),
           " or be per channel ([C], [N, C] or [N, C, 1, 1])");
  return {a};
}

void MulOp::backward(OpContext& ctx) const {
  Tensor none;
  ctx.backend.mul_bwd(ctx.in(0), ctx.in(1), ctx.dout(0), ctx.wants_dinput(0) ? ctx.din(0) : none,
                      ctx.wants_dinput(1) ? ctx.din(1) : none);
}

}  // namespace mt
