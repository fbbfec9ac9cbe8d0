// Elementwise ops on the GPU. Every kernel walks the output's memory order as a flat array: every
// tensor is dense, so an operand that lies like the output is read at the same offset, and one
// that lies otherwise (nchw next to nhwc, which the interface allows) is first copied into the
// output's layout. Each element is read before it is written by the same thread, so outputs may
// alias inputs (relu_fwd(y, y)). mul broadcasts a per-channel b ([C], [N, C] or [N, C, 1, 1]); its
// backward sums dy * a over the broadcast dims in two passes (per-block partial sums, then one warp
// per output), which is deterministic: no atomics.
#include <algorithm>
#include <initializer_list>

#include "core/hard_activations.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

namespace mt {
namespace {

using cuda::grid_stride;
using cuda::in_order_of;
using cuda::kThreads;
using cuda::kWarpSize;
using cuda::same_order;

// ---- launching and checking

template <typename F>
__global__ void for_each_kernel(int64_t n, F f) {
  for (int64_t i : grid_stride(n)) f(i);
}

// Calls f(i) on the device for every flat offset i below n.
template <typename F>
void launch_each(cuda::Context& ctx, int64_t n, const F& f) {
  if (n == 0) return;
  for_each_kernel<<<cuda::blocks_for(n), kThreads, 0, ctx.stream()>>>(n, f);
  MT_CUDA_CHECK_LAUNCH();
}

struct Named {
  const Tensor* tensor;
  const char* name;
};

void check_operands(const char* op, std::initializer_list<Named> operands) {
  for (const Named& o : operands) cuda::check_device_tensor(*o.tensor, op, o.name);
}

// ---- per-element functions and the maps that apply them

struct Relu {
  __device__ float operator()(float v) const { return v > 0.0f ? v : 0.0f; }
};
struct Sigmoid {
  // expf(-v) overflows to inf for very negative v, giving 0.
  __device__ float operator()(float v) const { return 1.0f / (1.0f + expf(-v)); }
};
struct ReluGrad {  // from the output: y > 0 exactly where x > 0
  __device__ float operator()(float y, float dy) const { return y > 0.0f ? dy : 0.0f; }
};
struct SigmoidGrad {
  __device__ float operator()(float y, float dy) const { return dy * y * (1.0f - y); }
};
// relu6, hardsigmoid, hardswish: the formulas every backend shares (core/hard_activations.h).
struct Relu6 {
  __device__ float operator()(float v) const { return relu6_value(v); }
};
struct HardSigmoid {
  __device__ float operator()(float v) const { return hardsigmoid_value(v); }
};
struct HardSwish {
  __device__ float operator()(float v) const { return hardswish_value(v); }
};
struct Relu6Grad {  // from the input, as the other two
  __device__ float operator()(float x, float dy) const { return relu6_grad(x, dy); }
};
struct HardSigmoidGrad {
  __device__ float operator()(float x, float dy) const { return hardsigmoid_grad(x, dy); }
};
struct HardSwishGrad {
  __device__ float operator()(float x, float dy) const { return hardswish_grad(x, dy); }
};
struct Plus {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct PlusRelu {
  __device__ float operator()(float a, float b) const { return Relu{}(a + b); }
};
struct Times {
  __device__ float operator()(float a, float b) const { return a * b; }
};

template <typename Op>
struct Map1 {
  const float* in;
  float* out;
  __device__ void operator()(int64_t i) const { out[i] = Op{}(in[i]); }
};

template <typename Op>
struct Map2 {
  const float* a;
  const float* b;
  float* out;
  __device__ void operator()(int64_t i) const { out[i] = Op{}(a[i], b[i]); }
};

// out = Op(in); the caller has checked devices and dtypes.
template <typename Op>
void map1(CudaBackend& backend, const char* op, const Tensor& in, Tensor& out) {
  cuda::check_same_shape(in, out, op);
  const Tensor src = in_order_of(backend, in, out);
  launch_each(backend.context(), out.numel(), Map1<Op>{src.data<float>(), out.data<float>()});
}

// out = Op(a, b), all of one shape; the caller has checked devices and dtypes.
template <typename Op>
void map2(CudaBackend& backend, const char* op, const Tensor& a, const Tensor& b, Tensor& out) {
  cuda::check_same_shape(a, b, op);
  cuda::check_same_shape(a, out, op);
  const Tensor pa = in_order_of(backend, a, out), pb = in_order_of(backend, b, out);
  launch_each(backend.context(), out.numel(),
              Map2<Op>{pa.data<float>(), pb.data<float>(), out.data<float>()});
}

// ---- mul's broadcast

enum class BShape { same, per_channel, per_sample_channel };

BShape b_shape_of(const char* op, const Tensor& a, const Shape& b) {
  if (b == a.shape()) return BShape::same;
  const bool per_channel = a.rank() == 4 && b.rank() == 1 && b[0] == a.dim(1);
  // [N, C, 1, 1] lies as [N, C] in either layout, so it is read and summed into as one.
  const bool per_sample_channel =
      a.rank() == 4 && (b.rank() == 2 || (b.rank() == 4 && b[2] == 1 && b[3] == 1)) &&
      b[0] == a.dim(0) && b[1] == a.dim(1);
  MT_CHECK(per_channel || per_sample_channel, ShapeError, "[cuda ", op, "] b ", b.str(),
           " must equal a ", a.shape().str(), " or be per channel ([C], [N, C] or [N, C, 1, 1])");
  return per_channel ? BShape::per_channel : BShape::per_sample_channel;
}

// Where element i of a [N, C, H, W] tensor finds its b: b[c] or b[n, c] (b is row-major: rank 1
// and 2 tensors always are, and [N, C, 1, 1] in either layout).
struct Broadcast {
  int64_t C, HW;
  bool nhwc, per_sample;
  __device__ int64_t operator()(int64_t i) const {
    const int64_t c = cuda::channel_of(i, C, HW, nhwc);
    return per_sample ? i / (C * HW) * C + c : c;
  }
};

Broadcast broadcast_over(const Tensor& t, BShape kind) {
  return {t.dim(1), t.dim(2) * t.dim(3), t.layout() == Layout::nhwc,
          kind == BShape::per_sample_channel};
}

struct MulBroadcast {
  const float* a;
  const float* b;
  float* y;
  Broadcast at;
  __device__ void operator()(int64_t i) const { y[i] = a[i] * b[at(i)]; }
};

// ---- db of a broadcast mul: sums of a * dy per channel, or per sample and channel

// Channels-last data: rows of C contiguous values, `rows` rows per group (a sample, or the whole
// batch). blockIdx.x = group * blocks_per_group + b; block b of a group takes every
// blocks_per_group-th pass of kThreads / tile rows and stores its sums for the channels of tile
// blockIdx.y in partial[blockIdx.x][c]. Consecutive threads read consecutive addresses even when
// C is small (several rows per pass).
__global__ void row_sums_kernel(const float* a, const float* dy, float* partial, int64_t rows,
                                int64_t C, int tile, int64_t blocks_per_group) {
  const int rows_per_pass = kThreads / tile;
  const int lane_c = threadIdx.x % tile, row_in_pass = threadIdx.x / tile;
  const int64_t c = int64_t{blockIdx.y} * tile + lane_c;
  const int64_t group = blockIdx.x / blocks_per_group, block = blockIdx.x % blocks_per_group;
  float acc = 0.0f;
  if (row_in_pass < rows_per_pass && c < C) {
    for (int64_t r = block * rows_per_pass + row_in_pass; r < rows;
         r += blocks_per_group * rows_per_pass) {
      const int64_t e = (group * rows + r) * C + c;
      acc += a[e] * dy[e];
    }
  }
  __shared__ float sums[kThreads];
  sums[threadIdx.x] = acc;
  __syncthreads();
  if (row_in_pass == 0 && c < C) {
    float s = 0.0f;
    for (int j = 0; j < rows_per_pass; ++j) s += sums[j * tile + lane_c];
    partial[int64_t{blockIdx.x} * C + c] = s;
  }
}

// Channels-first data: planes of HW contiguous values, one warp per plane.
__global__ void plane_sums_kernel(const float* a, const float* dy, float* sums, int64_t planes,
                                  int64_t HW) {
  const int lane = threadIdx.x % kWarpSize;
  for (int64_t p : cuda::warp_stride(planes)) {
    float acc = 0.0f;
    for (int64_t i = lane; i < HW; i += kWarpSize) acc += a[p * HW + i] * dy[p * HW + i];
    acc = cuda::warp_sum(acc);
    if (lane == 0) sums[p] = acc;
  }
}

// out[g * C + c] = sum over j < k of partial[(g * k + j) * C + c]: one warp per output, in double.
__global__ void finish_sums_kernel(const float* partial, float* out, int64_t outputs, int64_t C,
                                   int64_t k) {
  const int lane = threadIdx.x % kWarpSize;
  for (int64_t o : cuda::warp_stride(outputs)) {
    const int64_t g = o / C, c = o % C;
    double s = 0;
    for (int64_t j = lane; j < k; j += kWarpSize) s += partial[(g * k + j) * C + c];
    s = cuda::warp_sum(s);
    if (lane == 0) out[o] = static_cast<float>(s);
  }
}

// Blocks in flight that keep a large GPU busy; more only lengthen the partial sums.
constexpr int64_t kTargetBlocks = 1024;

// db [C] or [N, C] (row-major; or [N, C, 1, 1], the same memory) = sums of a * dy over the
// broadcast dims; dy lies like a.
void broadcast_sums(cuda::Context& ctx, const Tensor& a, const Tensor& dy, BShape kind, Tensor& db) {
  const int64_t N = a.dim(0), C = a.dim(1), HW = a.dim(2) * a.dim(3);
  const bool per_sample = kind == BShape::per_sample_channel;
  const int64_t groups = per_sample ? N : 1;
  if (db.numel() == 0) return;
  if (N * HW == 0) {  // nothing to sum: zeros
    cuda::zero(ctx, db);
    return;
  }
  const float* pa = a.data<float>();
  const float* pdy = dy.data<float>();
  Tensor partial;
  int64_t k = 0;  // partial sums per output
  if (a.stride(1) == 1) {  // channels innermost: nhwc, or H = W = 1
    const int tile = static_cast<int>(std::min<int64_t>(C, kThreads));
    const int64_t tiles = (C + tile - 1) / tile, rows = per_sample ? HW : N * HW;
    const int64_t rows_per_pass = kThreads / tile;
    k = std::clamp(kTargetBlocks / (groups * tiles), int64_t{1},
                   (rows + rows_per_pass - 1) / rows_per_pass);
    partial = Tensor::empty({groups * k, C}, DType::f32, Layout::nchw, db.device());
    const dim3 grid(static_cast<unsigned>(groups * k), static_cast<unsigned>(tiles));
    row_sums_kernel<<<grid, kThreads, 0, ctx.stream()>>>(pa, pdy, partial.data<float>(), rows, C,
                                                         tile, k);
  } else {
    partial = Tensor::empty({N, C}, DType::f32, Layout::nchw, db.device());  // one sum per plane
    k = per_sample ? 1 : N;
    plane_sums_kernel<<<cuda::blocks_for(N * C * kWarpSize), kThreads, 0, ctx.stream()>>>(
        pa, pdy, partial.data<float>(), N * C, HW);
  }
  MT_CUDA_CHECK_LAUNCH();
  finish_sums_kernel<<<cuda::blocks_for(groups * C * kWarpSize), kThreads, 0, ctx.stream()>>>(
      partial.data<float>(), db.data<float>(), groups * C, C, k);
  MT_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::relu_fwd(const Tensor& x, Tensor& y) {
  check_operands("relu_fwd", {{&x, "x"}, {&y, "y"}});
  map1<Relu>(*this, "relu_fwd", x, y);
}

void CudaBackend::relu_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) {
  check_operands("relu_bwd", {{&y, "y"}, {&dy, "dy"}, {&dx, "dx"}});
  map2<ReluGrad>(*this, "relu_bwd", y, dy, dx);
}

void CudaBackend::sigmoid_fwd(const Tensor& x, Tensor& y) {
  check_operands("sigmoid_fwd", {{&x, "x"}, {&y, "y"}});
  map1<Sigmoid>(*this, "sigmoid_fwd", x, y);
}

void CudaBackend::sigmoid_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) {
  check_operands("sigmoid_bwd", {{&y, "y"}, {&dy, "dy"}, {&dx, "dx"}});
  map2<SigmoidGrad>(*this, "sigmoid_bwd", y, dy, dx);
}

void CudaBackend::relu6_fwd(const Tensor& x, Tensor& y) {
  check_operands("relu6_fwd", {{&x, "x"}, {&y, "y"}});
  map1<Relu6>(*this, "relu6_fwd", x, y);
}

void CudaBackend::relu6_bwd(const Tensor& x, const Tensor& dy, Tensor& dx) {
  check_operands("relu6_bwd", {{&x, "x"}, {&dy, "dy"}, {&dx, "dx"}});
  map2<Relu6Grad>(*this, "relu6_bwd", x, dy, dx);
}

void CudaBackend::hardsigmoid_fwd(const Tensor& x, Tensor& y) {
  check_operands("hardsigmoid_fwd", {{&x, "x"}, {&y, "y"}});
  map1<HardSigmoid>(*this, "hardsigmoid_fwd", x, y);
}

void CudaBackend::hardsigmoid_bwd(const Tensor& x, const Tensor& dy, Tensor& dx) {
  check_operands("hardsigmoid_bwd", {{&x, "x"}, {&dy, "dy"}, {&dx, "dx"}});
  map2<HardSigmoidGrad>(*this, "hardsigmoid_bwd", x, dy, dx);
}

void CudaBackend::hardswish_fwd(const Tensor& x, Tensor& y) {
  check_operands("hardswish_fwd", {{&x, "x"}, {&y, "y"}});
  map1<HardSwish>(*this, "hardswish_fwd", x, y);
}

void CudaBackend::hardswish_bwd(const Tensor& x, const Tensor& dy, Tensor& dx) {
  check_operands("hardswish_bwd", {{&x, "x"}, {&dy, "dy"}, {&dx, "dx"}});
  map2<HardSwishGrad>(*this, "hardswish_bwd", x, dy, dx);
}

void CudaBackend::add_fwd(const Tensor& a, const Tensor& b, Tensor& y) {
  check_operands("add_fwd", {{&a, "a"}, {&b, "b"}, {&y, "y"}});
  map2<Plus>(*this, "add_fwd", a, b, y);
}

void CudaBackend::add_relu_fwd(const Tensor& a, const Tensor& b, Tensor& y) {
  check_operands("add_relu_fwd", {{&a, "a"}, {&b, "b"}, {&y, "y"}});
  map2<PlusRelu>(*this, "add_relu_fwd", a, b, y);
}

namespace {
// Both gradients of add_relu in one pass: da = db = (y > 0 ? dy : 0).
struct ReluGradTwice {
  const float* y;
  const float* dy;
  float* da;
  float* db;
  __device__ void operator()(int64_t i) const {
    const float g = ReluGrad{}(y[i], dy[i]);
    da[i] = g;
    db[i] = g;
  }
};
}  // namespace

void CudaBackend::add_relu_bwd(const Tensor& y, const Tensor& dy, Tensor& da, Tensor& db) {
  constexpr const char* op = "add_relu_bwd";
  check_operands(op, {{&y, "y"}, {&dy, "dy"}});
  if (da.defined()) check_operands(op, {{&da, "da"}});
  if (db.defined()) check_operands(op, {{&db, "db"}});
  if (da.defined() && db.defined()) {
    cuda::check_same_shape(y, dy, op);
    cuda::check_same_shape(y, da, op);
    cuda::check_same_shape(y, db, op);
  }
  if (da.defined() && db.defined() && same_order(da, db)) {
    const Tensor py = in_order_of(*this, y, da), pdy = in_order_of(*this, dy, da);
    launch_each(*context_, da.numel(),
                ReluGradTwice{py.data<float>(), pdy.data<float>(), da.data<float>(),
                              db.data<float>()});
    return;
  }
  if (da.defined()) map2<ReluGrad>(*this, op, y, dy, da);
  if (db.defined()) map2<ReluGrad>(*this, op, y, dy, db);
}

void CudaBackend::mul_fwd(const Tensor& a, const Tensor& b, Tensor& y) {
  check_operands("mul_fwd", {{&a, "a"}, {&b, "b"}, {&y, "y"}});
  const BShape kind = b_shape_of("mul_fwd", a, b.shape());
  if (kind == BShape::same) {
    map2<Times>(*this, "mul_fwd", a, b, y);
    return;
  }
  cuda::check_same_shape(a, y, "mul_fwd");
  const Tensor pa = in_order_of(*this, a, y);
  launch_each(*context_, y.numel(),
              MulBroadcast{pa.data<float>(), b.data<float>(), y.data<float>(),
                           broadcast_over(y, kind)});
}

// da = dy * b (broadcast); db = dy * a summed over the dims b was broadcast along.
void CudaBackend::mul_bwd(const Tensor& a, const Tensor& b, const Tensor& dy, Tensor& da,
                          Tensor& db) {
  constexpr const char* op = "mul_bwd";
  check_operands(op, {{&a, "a"}, {&b, "b"}, {&dy, "dy"}});
  cuda::check_same_shape(a, dy, op);
  const BShape kind = b_shape_of(op, a, b.shape());
  if (da.defined()) {
    check_operands(op, {{&da, "da"}});
    cuda::check_same_shape(a, da, op);
    if (kind == BShape::same) {
      map2<Times>(*this, op, dy, b, da);
    } else {
      const Tensor pdy = in_order_of(*this, dy, da);
      launch_each(*context_, da.numel(),
                  MulBroadcast{pdy.data<float>(), b.data<float>(), da.data<float>(),
                               broadcast_over(da, kind)});
    }
  }
  if (!db.defined()) return;
  check_operands(op, {{&db, "db"}});
  MT_CHECK(db.shape() == b.shape(), ShapeError, "[cuda ", op, "] db ", db.shape().str(), " for b ",
           b.shape().str());
  if (kind == BShape::same) {
    map2<Times>(*this, op, dy, a, db);
    return;
  }
  broadcast_sums(*context_, a, in_order_of(*this, dy, a), kind, db);
}

void CudaBackend::add_inplace(Tensor& dst, const Tensor& src) {
  check_operands("add_inplace", {{&dst, "dst"}, {&src, "src"}});
  map2<Plus>(*this, "add_inplace", dst, src, dst);
}

namespace {
struct Fill {
  float* t;
  float value;
  __device__ void operator()(int64_t i) const { t[i] = value; }
};
}  // namespace

void CudaBackend::fill(Tensor& t, double value) {
  check_operands("fill", {{&t, "t"}});
  launch_each(*context_, t.numel(), Fill{t.data<float>(), static_cast<float>(value)});
}

}  // namespace mt
