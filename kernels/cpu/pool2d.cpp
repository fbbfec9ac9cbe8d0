// Max and average pooling on oneDNN's pooling primitives (max keeps oneDNN's workspace in the
// caller's slot), global average pooling as OpenMP loops.
#include <algorithm>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/onednn_context.h"

namespace mt {
namespace {

using dnnl::algorithm;
using dnnl::memory;
namespace dn = onednn;

struct Window {
  memory::dims strides, kernel, pad_l, pad_r;
};

// The right pad makes oneDNN's output size match PyTorch's: the symmetric pad in floor mode,
// the pad that the last (ceil-mode) window needs otherwise.
Window window(const Pool2dDesc& d, const Tensor& x, const Tensor& y) {
  auto right = [](int64_t in, int64_t out, int k, int s, int p) {
    return std::max<int64_t>(p, (out - 1) * s + k - in - p);
  };
  return {{d.stride_h, d.stride_w},
          {d.kernel_h, d.kernel_w},
          {d.pad_h, d.pad_w},
          {right(x.dim(2), y.dim(2), d.kernel_h, d.stride_h, d.pad_h),
           right(x.dim(3), y.dim(3), d.kernel_w, d.stride_w, d.pad_w)}};
}

algorithm avg_algorithm(const Pool2dDesc& d) {
  return d.count_include_pad ? algorithm::pooling_avg_include_padding
                             : algorithm::pooling_avg_exclude_padding;
}

// x and y lie in `layout` (size-1 dims may make their own layouts differ): describe both so.
dnnl::pooling_forward::primitive_desc forward_pd(algorithm alg, const Pool2dDesc& d,
                                                 const Tensor& x, const Tensor& y, Layout layout) {
  auto& ctx = dn::Context::get();
  const Window w = window(d, x, y);
  dnnl::pooling_forward::desc desc(dnnl::prop_kind::forward_training, alg, dn::md_as(x, layout),
                                   dn::md_as(y, layout), w.strides, w.kernel, w.pad_l, w.pad_r);
  return {desc, ctx.attr(), ctx.engine()};
}

dn::Key pool_key(std::string_view op, const Pool2dDesc& d, const Tensor& x, const Tensor& y) {
  dn::Key k(op);
  k.add(d.kernel_h).add(d.kernel_w).add(d.stride_h).add(d.stride_w).add(d.pad_h).add(d.pad_w);
  k.add(d.ceil_mode).add(d.count_include_pad).add(x).add(y);
  return k;
}

struct Entry : dn::CacheEntry {
  dnnl::primitive prim;
  memory in, out, workspace, scratch;  // in: src or diff_dst; out: dst or diff_src
  dnnl::memory::desc workspace_md;
  template <typename Pd>
  Entry(const Pd& pd, dnnl::primitive p, const memory::desc& in_md, const memory::desc& out_md)
      : prim(std::move(p)),
        in(dn::unbound(in_md)),
        out(dn::unbound(out_md)),
        scratch(dn::unbound(pd.scratchpad_desc())),
        workspace_md(pd.workspace_desc()) {
    if (workspace_md.get_size() > 0) workspace = dn::unbound(workspace_md);
  }
};

// PyTorch divides a ceil-mode window that hangs past the right pad by the part inside
// (input + pad); oneDNN's include-padding average divides by the whole kernel. Returns the
// correction for output row/column i: 1 except possibly at the last one.
double border_factor(int64_t i, int64_t out, int64_t in, int k, int s, int p) {
  if (i != out - 1) return 1.0;
  const int64_t start = i * s - p;
  const int64_t end = std::min<int64_t>(start + k, in + p);
  return static_cast<double>(k) / static_cast<double>(end - start);
}

bool needs_border_fix(const Pool2dDesc& d, const Tensor& x, const Tensor& y) {
  if (!d.count_include_pad || !d.ceil_mode) return false;
  return border_factor(y.dim(2) - 1, y.dim(2), x.dim(2), d.kernel_h, d.stride_h, d.pad_h) != 1 ||
         border_factor(y.dim(3) - 1, y.dim(3), x.dim(3), d.kernel_w, d.stride_w, d.pad_w) != 1;
}

// Scales the last output row and column of t [N, C, OH, OW] by the factors above.
void fix_border(const Pool2dDesc& d, const Tensor& x, Tensor& t) {
  const int64_t N = t.dim(0), C = t.dim(1), OH = t.dim(2), OW = t.dim(3);
  float* p = t.data<float>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < OH; ++i) {
        const double fh = border_factor(i, OH, x.dim(2), d.kernel_h, d.stride_h, d.pad_h);
        for (int64_t j = (i == OH - 1 ? 0 : OW - 1); j < OW; ++j) {
          const double f = fh * border_factor(j, OW, x.dim(3), d.kernel_w, d.stride_w, d.pad_w);
          float& v = p[n * t.stride(0) + c * t.stride(1) + i * t.stride(2) + j * t.stride(3)];
          v = static_cast<float>(v * f);
        }
      }
}

void check_pool(std::string_view op, const Tensor& x, const Tensor& y) {
  cpu::check_f32(op, x);
  cpu::check_f32(op, y);
  MT_CHECK(x.rank() == 4 && y.rank() == 4 && x.dim(0) == y.dim(0) && x.dim(1) == y.dim(1),
           ShapeError, "[", op, "] x ", x.shape().str(), " and y ", y.shape().str(),
           " must be [N, C, H, W] and [N, C, OH, OW]");
}

// Reuses the caller's workspace slot when it is large enough, else (first call, new shape)
// replaces it.
const memory& bind_workspace(Entry& e, Tensor& slot) {
  const size_t bytes = e.workspace_md.get_size();
  if (!slot.defined() || slot.dtype() != DType::f32 || slot.nbytes() < bytes)
    slot = Tensor::empty({static_cast<int64_t>((bytes + 3) / 4)});
  e.workspace.set_data_handle(slot.raw());
  return e.workspace;
}

// The forward runs in x's layout (through a temporary when y lies otherwise), so that the
// backward can rebuild the same descriptors and read the workspace the same way.
void pool_forward(std::string_view op, algorithm alg, const Pool2dDesc& d, const Tensor& x,
                  Tensor& y, Tensor* workspace) {
  check_pool(op, x, y);
  Tensor out = cpu::output_in_layout(y, x.layout());
  auto& ctx = dn::Context::get();
  auto& e = ctx.lookup<Entry>(pool_key(op, d, x, out).add(static_cast<int64_t>(x.layout())), [&] {
    auto pd = dn::checked(op, "pooling for " + x.shape().str() + " -> " + y.shape().str(),
                          [&] { return forward_pd(alg, d, x, out, x.layout()); });
    return std::make_unique<Entry>(pd, dnnl::pooling_forward(pd), pd.src_desc(), pd.dst_desc());
  });
  dn::bind(e.in, x);
  dn::bind(e.out, out);
  ctx.bind_scratchpad(e.scratch);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, e.in}, {DNNL_ARG_DST, e.out}, {DNNL_ARG_SCRATCHPAD, e.scratch}};
  if (workspace) args.emplace(DNNL_ARG_WORKSPACE, bind_workspace(e, *workspace));
  ctx.execute(e.prim, args);
  if (alg != algorithm::pooling_max && needs_border_fix(d, x, out)) fix_border(d, x, out);
  if (!out.shares_memory(y)) cpu::copy_into(out, y);
}

// dx from dy, all in `layout`; `workspace` only for max pooling.
void pool_backward(std::string_view op, algorithm alg, const Pool2dDesc& d, Layout layout,
                   const Tensor& dy, const Tensor* workspace, Tensor& dx) {
  check_pool(op, dx, dy);
  Tensor g = cpu::in_layout(dy, layout);
  Tensor gx = cpu::output_in_layout(dx, layout);
  if (alg != algorithm::pooling_max && needs_border_fix(d, gx, g)) {
    if (g.shares_memory(dy)) {  // never scale the caller's dy
      g = Tensor::empty(dy.shape(), DType::f32, layout);
      cpu::copy_into(dy, g);
    }
    fix_border(d, gx, g);
  }
  auto& ctx = dn::Context::get();
  auto& e = ctx.lookup<Entry>(pool_key(op, d, gx, g).add(static_cast<int64_t>(layout)), [&] {
    auto pd =
        dn::checked(op, "pooling backward for " + g.shape().str() + " -> " + gx.shape().str(), [&] {
          const Window w = window(d, gx, g);
          dnnl::pooling_backward::desc desc(alg, dn::md_as(gx, layout), dn::md_as(g, layout),
                                            w.strides, w.kernel, w.pad_l, w.pad_r);
          return dnnl::pooling_backward::primitive_desc(desc, ctx.attr(), ctx.engine(),
                                                        forward_pd(alg, d, gx, g, layout));
        });
    return std::make_unique<Entry>(pd, dnnl::pooling_backward(pd), pd.diff_dst_desc(),
                                   pd.diff_src_desc());
  });
  dn::bind(e.in, g);
  dn::bind(e.out, gx);
  ctx.bind_scratchpad(e.scratch);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_DIFF_DST, e.in}, {DNNL_ARG_DIFF_SRC, e.out}, {DNNL_ARG_SCRATCHPAD, e.scratch}};
  if (workspace) {
    MT_CHECK(workspace->defined() && workspace->nbytes() >= e.workspace_md.get_size(), BackendError,
             "[", op, "] the workspace does not come from maxpool_fwd on ", dx.shape().str(),
             " (run the forward first)");
    e.workspace.set_data_handle(workspace->raw());
    args.emplace(DNNL_ARG_WORKSPACE, e.workspace);
  }
  ctx.execute(e.prim, args);
  if (!gx.shares_memory(dx)) cpu::copy_into(gx, dx);
}

}  // namespace

void CpuBackend::maxpool_fwd(const Pool2dDesc& d, const Tensor& x, Tensor& y, Tensor& workspace) {
  pool_forward("maxpool_fwd", algorithm::pooling_max, d, x, y, &workspace);
}

void CpuBackend::maxpool_bwd(const Pool2dDesc& d, const Tensor& x, const Tensor& dy,
                             const Tensor& workspace, Tensor& dx) {
  cpu::check_shape("maxpool_bwd", x, dx);
  pool_backward("maxpool_bwd", algorithm::pooling_max, d, x.layout(), dy, &workspace, dx);
}

void CpuBackend::avgpool_fwd(const Pool2dDesc& d, const Tensor& x, Tensor& y) {
  pool_forward("avgpool_fwd", avg_algorithm(d), d, x, y, nullptr);
}

void CpuBackend::avgpool_bwd(const Pool2dDesc& d, const Tensor& dy, Tensor& dx) {
  pool_backward("avgpool_bwd", avg_algorithm(d), d, dx.layout(), dy, nullptr, dx);
}

namespace {
void check_global(std::string_view op, const Tensor& x, const Tensor& y) {
  cpu::check_f32(op, x);
  cpu::check_f32(op, y);
  MT_CHECK(x.rank() == 4 && y.shape() == Shape({x.dim(0), x.dim(1)}), ShapeError, "[", op, "] x ",
           x.shape().str(), " and y ", y.shape().str(), " must be [N, C, H, W] and [N, C]");
}

bool is_nhwc(const Tensor& x) { return x.stride(1) == 1 && x.dim(1) > 1; }
}  // namespace

void CpuBackend::global_avgpool_fwd(const Tensor& x, Tensor& y) {
  check_global("global_avgpool_fwd", x, y);
  const int64_t N = x.dim(0), C = x.dim(1), HW = x.dim(2) * x.dim(3);
  const float* px = x.data<float>();
  float* py = y.data<float>();
  const float inv = 1.0f / static_cast<float>(HW);
  if (is_nhwc(x)) {
    cpu::parallel_for(
        N,
        [&](int64_t n) {  // sum the HW rows of C channels: vectorises over c
          float* out = py + n * C;
          std::fill(out, out + C, 0.0f);
          for (int64_t i = 0; i < HW; ++i)
            for (int64_t c = 0; c < C; ++c) out[c] += px[(n * HW + i) * C + c];
          for (int64_t c = 0; c < C; ++c) out[c] *= inv;
        },
        HW * C);
    return;
  }
  cpu::parallel_for(
      N * C,
      [&](int64_t r) {
        float s = 0;
        for (int64_t i = 0; i < HW; ++i) s += px[r * HW + i];
        py[r] = s * inv;
      },
      HW);
}

void CpuBackend::global_avgpool_bwd(const Tensor& dy, Tensor& dx) {
  check_global("global_avgpool_bwd", dx, dy);
  const int64_t N = dx.dim(0), C = dx.dim(1), HW = dx.dim(2) * dx.dim(3);
  const float* pg = dy.data<float>();
  float* px = dx.data<float>();
  const float inv = 1.0f / static_cast<float>(HW);
  if (is_nhwc(dx)) {
    cpu::parallel_for(
        N * HW,
        [&](int64_t r) {
          const float* g = pg + (r / HW) * C;
          for (int64_t c = 0; c < C; ++c) px[r * C + c] = g[c] * inv;
        },
        C);
    return;
  }
  cpu::parallel_for(
      N * C, [&](int64_t r) { std::fill(px + r * HW, px + (r + 1) * HW, pg[r] * inv); }, HW);
}

}  // namespace mt
