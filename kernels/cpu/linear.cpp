// Fully connected layers as oneDNN matmuls. PyTorch's w [M, K] is read in place as the transposed
// [K, M] operand (strides {1, K}), so no weight reorder is needed in any direction.
#include <algorithm>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/onednn_context.h"

namespace mt {
namespace {

using dnnl::memory;
namespace dn = onednn;

// A row-major [rows, cols] matrix, or its transpose when `transposed` (stored [cols, rows]).
memory::desc matrix_md(int64_t rows, int64_t cols, bool transposed) {
  const memory::dims strides = transposed ? memory::dims{1, rows} : memory::dims{cols, 1};
  return memory::desc({rows, cols}, memory::data_type::f32, strides);
}

struct MatmulEntry : dn::CacheEntry {
  dnnl::matmul prim;
  memory a, b, bias, c, scratch;
  explicit MatmulEntry(const dnnl::matmul::primitive_desc& pd, bool with_bias)
      : prim(pd),
        a(dn::unbound(pd.src_desc())),
        b(dn::unbound(pd.weights_desc())),
        c(dn::unbound(pd.dst_desc())),
        scratch(dn::unbound(pd.scratchpad_desc())) {
    if (with_bias) bias = dn::unbound(pd.bias_desc());
  }
};

// c [m, n] = a [m, k] * b [k, n] (+ bias [n]), each operand possibly stored transposed.
void matmul(std::string_view op, int64_t m, int64_t k, int64_t n, const Tensor& a, bool a_t,
            const Tensor& b, bool b_t, const Tensor& bias, Tensor& c) {
  auto& ctx = dn::Context::get();
  dn::Key key(op);
  key.add(m).add(k).add(n).add(a_t).add(b_t).add(bias.defined());
  auto& e = ctx.lookup<MatmulEntry>(key, [&] {
    auto pd = dn::checked(op, "matmul", [&] {
      const memory::desc amd = matrix_md(m, k, a_t), bmd = matrix_md(k, n, b_t);
      const memory::desc cmd = matrix_md(m, n, false);
      auto desc = bias.defined() ? dnnl::matmul::desc(amd, bmd, dn::plain_md({1, n}), cmd)
                                 : dnnl::matmul::desc(amd, bmd, cmd);
      return dnnl::matmul::primitive_desc(desc, ctx.attr(), ctx.engine());
    });
    return std::make_unique<MatmulEntry>(pd, bias.defined());
  });
  dn::bind(e.a, a);
  dn::bind(e.b, b);
  dn::bind(e.c, c);
  ctx.bind_scratchpad(e.scratch);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.a},
                                       {DNNL_ARG_WEIGHTS, e.b},
                                       {DNNL_ARG_DST, e.c},
                                       {DNNL_ARG_SCRATCHPAD, e.scratch}};
  if (bias.defined()) {
    dn::bind(e.bias, bias);
    args.emplace(DNNL_ARG_BIAS, e.bias);
  }
  ctx.execute(e.prim, args);
}

void check_matrix(std::string_view op, const char* name, const Tensor& t, int64_t rows,
                  int64_t cols) {
  cpu::check_f32(op, t);
  MT_CHECK(t.shape() == Shape({rows, cols}), ShapeError, "[", op, "] ", name, " ", t.shape().str(),
           " must be [", rows, ", ", cols, "]");
}

}  // namespace

void CpuBackend::linear_fwd(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  constexpr std::string_view op = "linear_fwd";
  MT_CHECK(x.rank() == 2 && w.rank() == 2, ShapeError, "[", op, "] x ", x.shape().str(), " and w ",
           w.shape().str(), " must be [N, K] and [M, K]");
  const int64_t N = x.dim(0), K = x.dim(1), M = w.dim(0);
  check_matrix(op, "x", x, N, K);
  check_matrix(op, "w", w, M, K);
  check_matrix(op, "y", y, N, M);
  if (b.defined()) check_matrix(op, "b", b.reshape({1, M}), 1, M);
  matmul(op, N, K, M, x, false, w, true, b, y);
}

void CpuBackend::linear_bwd_data(const Tensor& dy, const Tensor& w, Tensor& dx) {
  constexpr std::string_view op = "linear_bwd_data";
  MT_CHECK(dy.rank() == 2 && w.rank() == 2, ShapeError, "[", op, "] dy ", dy.shape().str(),
           " and w ", w.shape().str(), " must be [N, M] and [M, K]");
  const int64_t N = dy.dim(0), M = dy.dim(1), K = w.dim(1);
  check_matrix(op, "w", w, M, K);
  check_matrix(op, "dx", dx, N, K);
  matmul(op, N, M, K, dy, false, w, false, Tensor(), dx);
}

void CpuBackend::linear_bwd_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor& db) {
  constexpr std::string_view op = "linear_bwd_weights";
  MT_CHECK(x.rank() == 2 && dy.rank() == 2, ShapeError, "[", op, "] x ", x.shape().str(),
           " and dy ", dy.shape().str(), " must be [N, K] and [N, M]");
  const int64_t N = x.dim(0), K = x.dim(1), M = dy.dim(1);
  check_matrix(op, "dy", dy, N, M);
  if (dw.defined()) {
    check_matrix(op, "dw", dw, M, K);
    matmul(op, M, N, K, dy, true, x, false, Tensor(), dw);  // dw = dy^T x
  }
  if (!db.defined()) return;
  check_matrix(op, "db", db.reshape({1, M}), 1, M);
  const float* g = dy.data<float>();
  float* out = db.data<float>();
  cpu::parallel_for(
      M,
      [&](int64_t m) {
        double s = 0;
        for (int64_t n = 0; n < N; ++n) s += g[n * M + m];
        out[m] = static_cast<float>(s);
      },
      N);
}

}  // namespace mt
