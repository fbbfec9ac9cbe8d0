// Inverted dropout with the mask every backend shares (dropout_uniform of the logical row-major
// position). The workspace holds the mask as values, 0 or 1 / (1 - p), in x's shape and layout,
// so the backward is one multiply.
#include <algorithm>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"

namespace mt {

void CpuBackend::dropout_fwd(double p, uint64_t seed, const Tensor& x, Tensor& y,
                             Tensor& workspace) {
  cpu::check_f32("dropout_fwd", {&x, &y});
  cpu::check_shape("dropout_fwd", x, y);
  MT_CHECK(p >= 0 && p < 1, BackendError, "[dropout_fwd] p = ", p, " must be in [0, 1)");
  if (!workspace.defined() || workspace.shape() != x.shape() || workspace.dtype() != DType::f32 ||
      workspace.layout() != x.layout())
    workspace = Tensor::empty(x.shape(), DType::f32, x.layout());
  const Tensor src = cpu::in_order_of(x, y);
  const Tensor mask = cpu::output_in_layout(workspace, y.layout());
  const float keep = static_cast<float>(1 / (1 - p));
  const float* px = src.data<float>();
  float* py = y.data<float>();
  float* pm = mask.data<float>();
  // Walk the logical index (row-major over the shape) and place each element by y's strides.
  const int r = y.rank();
  const int64_t inner = r > 0 ? y.dim(r - 1) : 1, rows = inner > 0 ? y.numel() / inner : 0;
  cpu::parallel_for(
      rows,
      [&](int64_t row) {
        int64_t off = 0, rest = row;
        for (int d = r - 2; d >= 0; --d) {
          off += (rest % y.dim(d)) * y.stride(d);
          rest /= y.dim(d);
        }
        const int64_t step = r > 0 ? y.stride(r - 1) : 1;
        for (int64_t j = 0; j < inner; ++j) {
          const uint64_t i = static_cast<uint64_t>(row * inner + j);
          const float m = dropout_uniform(seed, i) >= p ? keep : 0.0f;
          pm[off + j * step] = m;
          py[off + j * step] = px[off + j * step] * m;
        }
      },
      inner);
  if (!mask.shares_memory(workspace)) cpu::copy_into(mask, workspace);
}

void CpuBackend::dropout_bwd(double, const Tensor& workspace, const Tensor& dy, Tensor& dx) {
  cpu::check_f32("dropout_bwd", {&dy, &dx});
  MT_CHECK(workspace.defined() && workspace.shape() == dy.shape(), BackendError,
           "[dropout_bwd] no mask for ", dy.shape().str(), ": run dropout_fwd first");
  cpu::check_shape("dropout_bwd", dy, dx);
  const Tensor g = cpu::in_order_of(dy, dx), m = cpu::in_order_of(workspace, dx);
  const float* pg = g.data<float>();
  const float* pm = m.data<float>();
  float* px = dx.data<float>();
  cpu::parallel_ranges(dx.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) px[i] = pg[i] * pm[i];
  });
}

}  // namespace mt
