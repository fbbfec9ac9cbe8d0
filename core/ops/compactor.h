#pragma once
// ResRep's compactor (Ding et al., ICCV 2021): a 1x1 convolution C -> C without bias, placed after
// a conv's batch norm and initialised to the identity. It runs exactly as a conv2d (same kernels,
// same backward); only its kind differs, so that morph sees it for what it is: channel i of its
// output stands for channel i of its conv (channel groups pass it through), it costs nothing
// in the merged model (cost models skip it), and ResRep finds its rows by kind.
// Inputs: x [N, C, H, W], weight [C, C, 1, 1].
#include "core/ops/conv2d.h"

namespace mt {

class CompactorOp : public Conv2dOp {
 public:
  CompactorOp() : Conv2dOp(Conv2dDesc{}, false) {}
  OpKind kind() const override { return OpKind::compactor; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override {
    std::vector<Shape> out = Conv2dOp::infer_shapes(in);
    const Shape& w = in[1];
    MT_CHECK(w[0] == w[1] && w[2] == 1 && w[3] == 1, ShapeError, "[compactor] weight ", w.str(),
             " must be [C, C, 1, 1]");
    return out;
  }
};

}  // namespace mt
