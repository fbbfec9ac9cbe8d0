#include "kernels/cpu/cpu_util.h"

namespace mt::cpu {

namespace {
bool lies_in(const Tensor& t, Layout layout) {
  if (t.layout() == layout || t.rank() != 4) return true;
  const std::vector<int64_t> want = strides_for(t.shape(), layout);
  bool alike = true;  // size-1 dims can make both layouts lie the same
  for (int i = 0; i < 4; ++i) alike &= t.dim(i) == 1 || t.stride(i) == want[i];
  return alike;
}
}  // namespace

Tensor output_in_layout(const Tensor& t, Layout layout) {
  return lies_in(t, layout) ? t : Tensor::empty(t.shape(), t.dtype(), layout, t.device());
}

Tensor in_layout(const Tensor& t, Layout layout) {
  if (lies_in(t, layout)) return t;
  Tensor out = Tensor::empty(t.shape(), t.dtype(), layout, t.device());
  copy_into(t, out);
  return out;
}

}  // namespace mt::cpu
