// Channel concatenation (axis 1) and its backward as slab copies: per pixel in nhwc (each input
// owns a contiguous run of the output's channels), per image in nchw (a contiguous block).
#include <algorithm>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"

namespace mt {
namespace {

// A tensor seen as [N, C, S] (S = H * W) with element strides for each of the three.
struct Slab {
  float* p;
  int64_t sn, sc, ss;
};

Slab slab_of(const Tensor& t) {
  const int64_t C = t.dim(1), S = t.numel() / std::max<int64_t>(1, t.dim(0) * C);
  if (t.rank() == 4 && t.stride(1) == 1) return {t.data<float>(), t.stride(0), 1, C};
  return {t.data<float>(), C * S, S, 1};
}

// to[:, to_c0 + c, :] = from[:, from_c0 + c, :] for c < C.
void copy_channels(const Slab& from, int64_t from_c0, const Slab& to, int64_t to_c0, int64_t N,
                   int64_t C, int64_t S) {
  const float* src = from.p + from_c0 * from.sc;
  float* dst = to.p + to_c0 * to.sc;
  if (from.sc == 1 && to.sc == 1) {  // both nhwc: C contiguous floats per pixel
    cpu::parallel_for(
        N * S,
        [&](int64_t r) {
          const float* a = src + (r / S) * from.sn + (r % S) * from.ss;
          float* b = dst + (r / S) * to.sn + (r % S) * to.ss;
          for (int64_t c = 0; c < C; ++c) b[c] = a[c];
        },
        C);
    return;
  }
  cpu::parallel_for(
      N * C,
      [&](int64_t r) {  // per plane; contiguous when both are nchw
        const float* a = src + (r / C) * from.sn + (r % C) * from.sc;
        float* b = dst + (r / C) * to.sn + (r % C) * to.sc;
        for (int64_t s = 0; s < S; ++s) b[s * to.ss] = a[s * from.ss];
      },
      S);
}

void check_part(std::string_view op, const Tensor& part, const Tensor& whole, int64_t c0) {
  cpu::check_f32(op, part);
  MT_CHECK(part.rank() == whole.rank() && part.dim(0) == whole.dim(0) &&
               c0 + part.dim(1) <= whole.dim(1) &&
               part.numel() / std::max<int64_t>(1, part.dim(1)) ==
                   whole.numel() / std::max<int64_t>(1, whole.dim(1)),
           ShapeError, "[", op, "] part ", part.shape().str(), " at channel ", c0, " does not fit ",
           whole.shape().str());
}

}  // namespace

void CpuBackend::concat_fwd(const std::vector<const Tensor*>& xs, Tensor& y) {
  cpu::check_f32("concat_fwd", y);
  const Slab out = slab_of(y);
  const int64_t N = y.dim(0), S = y.numel() / std::max<int64_t>(1, N * y.dim(1));
  int64_t c0 = 0;
  for (const Tensor* x : xs) {
    check_part("concat_fwd", *x, y, c0);
    copy_channels(slab_of(*x), 0, out, c0, N, x->dim(1), S);
    c0 += x->dim(1);
  }
  MT_CHECK(c0 == y.dim(1), ShapeError, "[concat_fwd] inputs hold ", c0, " channels, y ",
           y.shape().str());
}

void CpuBackend::concat_bwd(const Tensor& dy, const std::vector<int64_t>& channels,
                            const std::vector<Tensor*>& dxs) {
  cpu::check_f32("concat_bwd", dy);
  MT_CHECK(channels.size() == dxs.size(), ShapeError, "[concat_bwd] ", channels.size(),
           " widths for ", dxs.size(), " inputs");
  int64_t total = 0;
  for (int64_t c : channels) total += c;
  MT_CHECK(total == dy.dim(1), ShapeError, "[concat_bwd] the inputs have ", total,
           " channels in all, dy ", dy.shape().str());
  const Slab in = slab_of(dy);
  const int64_t N = dy.dim(0), S = dy.numel() / std::max<int64_t>(1, N * dy.dim(1));
  int64_t c0 = 0;
  for (size_t i = 0; i < dxs.size(); ++i) {
    if (Tensor* dx = dxs[i]; dx && dx->defined()) {
      check_part("concat_bwd", *dx, dy, c0);
      copy_channels(in, c0, slab_of(*dx), 0, N, dx->dim(1), S);
    }
    c0 += channels[i];
  }
}

}  // namespace mt
