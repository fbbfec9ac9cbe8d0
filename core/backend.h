#pragma once
// The one interface every kernel backend implements (kernels/reference, kernels/cpu, later
// kernels/cuda). core declares it so that ops and the executor can call a backend without knowing
// which one; the implementations live in kernels/ and depend on core, never the other way round.
//
// Conventions for every method:
// - Output tensors are allocated by the caller with the right logical shape; a backend writes
//   them whole (never accumulates) unless the name says `_accumulate`/`inplace`.
// - 4-D activations are logical NCHW; their strides give the physical layout. A backend may
//   require its activation_layout() and says so with a BackendError naming the op.
// - An undefined Tensor (Tensor{}) passed for an optional output means "not needed".
// - `Tensor& workspace` slots belong to the caller (one per graph node) and persist between
//   calls: a backend allocates them on first use and reuses them while the shape stays.
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/tensor.h"

// The two formulas below are shared with CUDA kernels (kernels/cuda), so that the GPU draws the
// same dropout masks and gates as the CPU: under nvcc they compile for the device as well.
#ifdef __CUDACC__
#define MT_HOST_DEVICE __host__ __device__
#else
#define MT_HOST_DEVICE
#endif

namespace mt {

// Kernel size comes from the weight shape [O, I/groups, kH, kW].
struct Conv2dDesc {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  bool operator==(const Conv2dDesc&) const = default;
};

struct Pool2dDesc {
  int kernel_h = 2, kernel_w = 2;
  int stride_h = 2, stride_w = 2;
  int pad_h = 0, pad_w = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling only; PyTorch's default
  bool operator==(const Pool2dDesc&) const = default;
};

struct BatchNormDesc {
  double eps = 1e-5;
  double momentum = 0.1;  // PyTorch convention: running = (1 - m) * running + m * batch
};

// The option-A ResNet shortcut: y[:, pad_before + c, h, w] = x[:, c, h * stride, w * stride],
// zeros elsewhere.
struct ChannelPadDesc {
  int64_t pad_before = 0, pad_after = 0;
  int stride = 1;
};

struct SgdDesc {
  double lr = 0.1, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  bool decoupled_weight_decay = false;  // SGDW: p -= lr * wd * p, outside the momentum
  bool first_step = false;              // PyTorch initialises the momentum buffer to the gradient
};

struct AdamWDesc {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;
  int64_t step = 1;  // 1-based, for bias correction
};

// The FiGS logistic-sigmoid gate (arXiv 2006.09581; morph-net's LogisticSigmoidGating).
struct GateDesc {
  double temperature = 0.001;  // morph-net's default: nearly hard 0/1 samples
  bool train = true;           // sample the relaxed Bernoulli; false: the deterministic eval gate
  uint64_t seed = 0;           // the step's noise (train only)
  bool relu = false;           // a following ReLU fused in: y = relu(x) * g (g >= 0, so = relu(x * g))
  // Channel 0 always open (g = 1, no gradient), in training and evaluation: a sampled mask can
  // never close a whole layer and break the network (morph-net's keep_first_channel_alive).
  bool keep_first_channel = false;
};

class KernelBackend {
 public:
  virtual ~KernelBackend() = default;
  virtual std::string_view name() const = 0;
  virtual Device device() const = 0;
  // The physical layout the backend wants for 4-D activations.
  virtual Layout activation_layout() const = 0;
  virtual bool supports(DType dtype) const = 0;

#define MT_KERNEL(ret, name, params) virtual ret name params = 0;
#include "core/backend_kernels.inc"
#undef MT_KERNEL

  // ---- fused epilogues: an op followed by a ReLU in one call. The executor uses them where a
  // ReLU is the only reader of a batch norm's or an add's output; y then holds relu(op(...)). The
  // defaults compose the plain kernels; a backend overrides them to save a pass over memory.
  virtual void batchnorm_relu_fwd_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                        const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                                        Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
    batchnorm_fwd_train(d, x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd);
    relu_fwd(y, y);
  }
  virtual void batchnorm_relu_fwd_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                       const Tensor& beta, const Tensor& running_mean,
                                       const Tensor& running_var, Tensor& y) {
    batchnorm_fwd_eval(d, x, gamma, beta, running_mean, running_var, y);
    relu_fwd(y, y);
  }
  // y is the fused output relu(bn(x)); dy (the gradient of y) may be overwritten. The ReLU's mask
  // is y > 0, or, where a backend prefers not to read y, x's affine image under gamma, beta and the
  // saved statistics, as the forward computed it.
  virtual void batchnorm_relu_bwd(const BatchNormDesc& d, const Tensor& x, const Tensor& y,
                                  Tensor& dy, const Tensor& gamma, const Tensor& /*beta*/,
                                  const Tensor& save_mean,
                                  const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                                  Tensor& dbeta) {
    relu_bwd(y, dy, dy);
    batchnorm_bwd(d, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
  }
  // ---- recomputation. The training forward's batch norm output again, from what that forward
  // saved: y = (x - save_mean) * save_invstd * gamma + beta, then a ReLU if `relu`, the same
  // values bit for bit as batchnorm(_relu)_fwd_train wrote, and nothing else written. The
  // executor then drops a batch norm's output after forward and recomputes it for backward
  // (Executor::Options::recompute) without changing a gradient. A backend that cannot promise
  // the same bits says so with recomputes_batchnorm(), and the executor keeps the output.
  virtual bool recomputes_batchnorm() const { return false; }
  virtual void batchnorm_fwd_saved(const BatchNormDesc& /*d*/, const Tensor& /*x*/, const Tensor& /*gamma*/,
                                   const Tensor& /*beta*/, const Tensor& /*save_mean*/,
                                   const Tensor& /*save_invstd*/, bool /*relu*/, Tensor& /*y*/) {
    MT_FAIL(BackendError, "[batchnorm_fwd_saved] the ", name(), " backend does not recompute batch norms");
  }
  // Inference: y = bn_eval(conv(x, w, b)), then a ReLU if `relu`, in one call. A backend folds
  // the batch norm into the convolution's weights and bias, so the conv's own output is never
  // written. The default composes (the batch norm runs in place on y).
  virtual void conv2d_bn_fwd_eval(const Conv2dDesc& cd, const Tensor& x, const Tensor& w,
                                  const Tensor& b, const BatchNormDesc& bd, const Tensor& gamma,
                                  const Tensor& beta, const Tensor& running_mean,
                                  const Tensor& running_var, bool relu, Tensor& y) {
    conv2d_fwd(cd, x, w, b, y);
    if (relu)
      batchnorm_relu_fwd_eval(bd, y, gamma, beta, running_mean, running_var, y);
    else
      batchnorm_fwd_eval(bd, y, gamma, beta, running_mean, running_var, y);
  }
  // The same with the residual add after it: y holds the residual on entry, and on return
  // bn_eval(conv(x, w, b)) + that residual, then a ReLU if `relu`. The executor uses it in
  // forward-only evaluation plans, where nothing reads the residual after the add, so the add's
  // output takes its buffer over. The default composes through a temporary.
  virtual void conv2d_bn_add_fwd_eval(const Conv2dDesc& cd, const Tensor& x, const Tensor& w,
                                      const Tensor& b, const BatchNormDesc& bd, const Tensor& gamma,
                                      const Tensor& beta, const Tensor& running_mean,
                                      const Tensor& running_var, bool relu, Tensor& y) {
    Tensor branch = Tensor::empty(y.shape(), y.dtype(), y.layout(), y.device());
    conv2d_bn_fwd_eval(cd, x, w, b, bd, gamma, beta, running_mean, running_var, false, branch);
    if (relu)
      add_relu_fwd(branch, y, y);
    else
      add_fwd(branch, y, y);
  }
  virtual void add_relu_fwd(const Tensor& a, const Tensor& b, Tensor& y) {
    add_fwd(a, b, y);
    relu_fwd(y, y);
  }
  // da/db may be undefined.
  virtual void add_relu_bwd(const Tensor& y, const Tensor& dy, Tensor& da, Tensor& db) {
    if (da.defined()) relu_bwd(y, dy, da);
    if (db.defined()) relu_bwd(y, dy, db);
  }
};

// The [R, n] view row_stats and row_update take of x, after the checks every backend shares:
// x and `per_row` (row_stats' out [R, 3], row_update's coef [R, 4]) row-major, and y (row_update
// only; null for row_stats) row-major of x's shape. Dtypes and devices are each backend's to check.
struct RowExtent {
  int64_t rows, cols;
};
inline RowExtent row_extent(std::string_view op, const Tensor& x, const Tensor& per_row,
                            int64_t per_row_cols, const Tensor* y) {
  MT_CHECK(x.defined() && x.rank() >= 1 && x.layout() == Layout::nchw, ShapeError, "[", op,
           "] x must be a row-major tensor of rank >= 1, got shape ", x.shape().str(),
           x.layout() == Layout::nhwc ? " nhwc" : "");
  const int64_t rows = x.dim(0);
  MT_CHECK(per_row.defined() && per_row.shape() == Shape({rows, per_row_cols}) &&
               per_row.layout() == Layout::nchw,
           ShapeError, "[", op, "] per-row tensor has shape ", per_row.shape().str(), ", expected [",
           rows, ", ", per_row_cols, "] row-major for x ", x.shape().str());
  if (y)
    MT_CHECK(y->defined() && y->shape() == x.shape() && y->layout() == Layout::nchw, ShapeError,
             "[", op, "] y has shape ", y->shape().str(), ", expected x's ", x.shape().str(),
             " row-major");
  return {rows, rows > 0 ? x.numel() / rows : 0};
}

// Counter-based uniform in [0, 1) from (seed, index): splitmix64 of the pair. Deterministic and
// identical on every backend, so a dropout mask never depends on thread scheduling.
MT_HOST_DEVICE inline double dropout_uniform(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

// A channel's gate and its derivative by the logit, identical on every backend. Training draws
// one standard logistic sample per channel and step, log(u) - log(1 - u) (morph-net samples
// logits.shape: every example and pixel shares it), and g = sigmoid((logit + noise) / T).
// Evaluation is morph-net's soft mask for inference: g = sigmoid(logit) where logit > 0, else 0.
// With keep_first_channel, channel 0 is 1 in both.
struct GateValue {
  double g, dg;  // the gate and d gate / d logit
};
MT_HOST_DEVICE inline GateValue gate_value(const GateDesc& d, double logit, uint64_t channel) {
  // sigmoid(z) and sigmoid(-z) = 1 - sigmoid(z) without cancellation, for any z.
  const auto sigmoid = [](double z) {
    return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z));
  };
  if (d.keep_first_channel && channel == 0) return {1, 0};
  if (!d.train) {
    if (!(logit > 0)) return {0, 0};
    return {sigmoid(logit), sigmoid(logit) * sigmoid(-logit)};
  }
  // The middle of one of 2^52 equal cells: u lies strictly inside (0, 1) and is exact, so the
  // noise is finite (|noise| < 37).
  const double u = (std::floor(dropout_uniform(d.seed, channel) * 0x1.0p52) + 0.5) * 0x1.0p-52;
  const double z = (logit + std::log(u) - std::log1p(-u)) / d.temperature;
  return {sigmoid(z), sigmoid(z) * sigmoid(-z) / d.temperature};
}

// One element of row_update, identical on every backend (and compiled for the GPU). A zero
// coefficient drops its term instead of multiplying it: c0 = 0 overwrites y even where it holds
// NaN or inf (ResRep clears masked gradient rows so, as it always has), and a row (1, 0, 0, 0)
// leaves y bit for bit whatever x holds.
MT_HOST_DEVICE inline double row_update_value(double c0, double c1, double c2, double c3, double x,
                                              double y) {
  double v = c0 != 0 ? c0 * y : 0.0;
  if (c1 != 0) v += c1 * x;
  if (c2 != 0) v += c2 * (x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0));
  if (c3 != 0) v += c3;
  return v;
}

}  // namespace mt
