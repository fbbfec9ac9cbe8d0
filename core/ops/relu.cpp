#include "core/ops/relu.h"

namespace mt {

std::vector<Shape> same_shape_as_input(std::string_view op, const std::vector<Shape>& in) {
  MT_CHECK(in.size() == 1, ShapeError, "[", op, "] expects 1 input, got ", in.size());
  return {in[0]};
}

std::vector<Shape> ReluOp::infer_shapes(const std::vector<Shape>& in) const {
  return same_shape_as_input(kind_name(), in);
}

}  // namespace mt
