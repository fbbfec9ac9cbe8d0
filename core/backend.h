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
};

class KernelBackend {
 public:
  virtual ~KernelBackend() = default;
  virtual std::string_view name() const = 0;
  virtual Device device() const = 0;
  // The physical layout the backend wants for 4-D activations.
  virtual Layout activation_layout() const = 0;
  virtual bool supports(DType dtype) const = 0;

  // ---- convolution: x [N, C, H, W], w [O, C/g, kH, kW], b [O], y [N, O, OH, OW]
  virtual void conv2d_fwd(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& b,
                          Tensor& y) = 0;
  virtual void conv2d_bwd_data(const Conv2dDesc& d, const Tensor& dy, const Tensor& w,
                               Tensor& dx) = 0;
  // db may be undefined (no bias).
  virtual void conv2d_bwd_weights(const Conv2dDesc& d, const Tensor& x, const Tensor& dy,
                                  Tensor& dw, Tensor& db) = 0;

  // ---- batch norm over [N, C, H, W] per channel. gamma/beta undefined = no affine.
  // Training normalises with the batch statistics, saves mean and 1/sqrt(var + eps) [C] for the
  // backward, and updates running_mean/var (running_var with the unbiased variance).
  virtual void batchnorm_fwd_train(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                   const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                                   Tensor& y, Tensor& save_mean, Tensor& save_invstd) = 0;
  virtual void batchnorm_fwd_eval(const BatchNormDesc& d, const Tensor& x, const Tensor& gamma,
                                  const Tensor& beta, const Tensor& running_mean,
                                  const Tensor& running_var, Tensor& y) = 0;
  // Backward of the training-mode forward. dgamma/dbeta may be undefined.
  virtual void batchnorm_bwd(const BatchNormDesc& d, const Tensor& x, const Tensor& dy,
                             const Tensor& gamma, const Tensor& save_mean,
                             const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                             Tensor& dbeta) = 0;

  // ---- elementwise (any shape; a and b of one shape unless said otherwise)
  virtual void relu_fwd(const Tensor& x, Tensor& y) = 0;
  virtual void relu_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) = 0;  // from the output
  virtual void sigmoid_fwd(const Tensor& x, Tensor& y) = 0;
  virtual void sigmoid_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) = 0;
  virtual void add_fwd(const Tensor& a, const Tensor& b, Tensor& y) = 0;
  // b has a's shape, or is per channel: [C] or [N, C] broadcast over a [N, C, H, W] (gates).
  virtual void mul_fwd(const Tensor& a, const Tensor& b, Tensor& y) = 0;
  // da/db may be undefined; db sums over the broadcast dimensions.
  virtual void mul_bwd(const Tensor& a, const Tensor& b, const Tensor& dy, Tensor& da,
                       Tensor& db) = 0;
  virtual void add_inplace(Tensor& dst, const Tensor& src) = 0;  // gradient accumulation
  virtual void fill(Tensor& t, double value) = 0;
  // Same logical shape, any layouts (a layout change, or a flatten into a row-major view).
  virtual void copy(const Tensor& src, Tensor& dst) = 0;

  // ---- pooling. workspace: whatever the max-pool backward needs (argmax indices, or a
  // library's own workspace).
  virtual void maxpool_fwd(const Pool2dDesc& d, const Tensor& x, Tensor& y, Tensor& workspace) = 0;
  virtual void maxpool_bwd(const Pool2dDesc& d, const Tensor& x, const Tensor& dy,
                           const Tensor& workspace, Tensor& dx) = 0;
  virtual void avgpool_fwd(const Pool2dDesc& d, const Tensor& x, Tensor& y) = 0;
  virtual void avgpool_bwd(const Pool2dDesc& d, const Tensor& dy, Tensor& dx) = 0;
  // x [N, C, H, W] -> y [N, C]
  virtual void global_avgpool_fwd(const Tensor& x, Tensor& y) = 0;
  virtual void global_avgpool_bwd(const Tensor& dy, Tensor& dx) = 0;

  // ---- linear: x [N, K], w [M, K] (PyTorch layout), b [M] or undefined, y [N, M]
  virtual void linear_fwd(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) = 0;
  virtual void linear_bwd_data(const Tensor& dy, const Tensor& w, Tensor& dx) = 0;
  virtual void linear_bwd_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor& db) = 0;

  // ---- channel concat (axis 1) and the option-A channel pad
  virtual void concat_fwd(const std::vector<const Tensor*>& xs, Tensor& y) = 0;
  // channels[i]: input i's width (its channel offset in dy is the sum of those before it).
  // dxs entries may be null (that input needs no gradient).
  virtual void concat_bwd(const Tensor& dy, const std::vector<int64_t>& channels,
                          const std::vector<Tensor*>& dxs) = 0;
  virtual void channel_pad_fwd(const ChannelPadDesc& d, const Tensor& x, Tensor& y) = 0;
  virtual void channel_pad_bwd(const ChannelPadDesc& d, const Tensor& dy, Tensor& dx) = 0;

  // ---- dropout: element i (its row-major position in the logical shape, so the layout does not
  // matter) is kept iff uniform(seed, i) >= p, where uniform is
  // dropout_uniform() below, so every backend draws the same mask. Kept elements scale by 1/(1-p).
  virtual void dropout_fwd(double p, uint64_t seed, const Tensor& x, Tensor& y,
                           Tensor& workspace) = 0;
  virtual void dropout_bwd(double p, const Tensor& workspace, const Tensor& dy, Tensor& dx) = 0;

  // ---- softmax cross-entropy, mean over the batch. logits [N, K], labels i64 [N], loss [] (a
  // rank-0 tensor), probs [N, K] saved for the backward. Label smoothing s mixes the one-hot
  // target with the uniform distribution: (1 - s) * onehot + s / K (PyTorch's definition).
  virtual void softmax_xent_fwd(double label_smoothing, const Tensor& logits, const Tensor& labels,
                                Tensor& loss, Tensor& probs) = 0;
  // dloss is a rank-0 tensor (the upstream gradient of the scalar loss).
  virtual void softmax_xent_bwd(double label_smoothing, const Tensor& probs, const Tensor& labels,
                                const Tensor& dloss, Tensor& dlogits) = 0;

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
  // y is the fused output relu(bn(x)); dy (the gradient of y) may be overwritten.
  virtual void batchnorm_relu_bwd(const BatchNormDesc& d, const Tensor& x, const Tensor& y,
                                  Tensor& dy, const Tensor& gamma, const Tensor& save_mean,
                                  const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                                  Tensor& dbeta) {
    relu_bwd(y, dy, dy);
    batchnorm_bwd(d, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
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
  virtual void add_relu_fwd(const Tensor& a, const Tensor& b, Tensor& y) {
    add_fwd(a, b, y);
    relu_fwd(y, y);
  }
  // da/db may be undefined.
  virtual void add_relu_bwd(const Tensor& y, const Tensor& dy, Tensor& da, Tensor& db) {
    if (da.defined()) relu_bwd(y, dy, da);
    if (db.defined()) relu_bwd(y, dy, db);
  }

  // ---- optimizer updates, in place on param (and the state tensors)
  virtual void sgd_step(const SgdDesc& d, Tensor& param, const Tensor& grad,
                        Tensor& momentum_buf) = 0;
  virtual void adamw_step(const AdamWDesc& d, Tensor& param, const Tensor& grad, Tensor& exp_avg,
                          Tensor& exp_avg_sq) = 0;
  // Sum of squares (gradient-norm clipping, group norms).
  virtual double sum_squares(const Tensor& t) = 0;
  virtual void scale_inplace(Tensor& t, double factor) = 0;

  // ---- FiGS gate: x [N, C, H, W] or [N, C], logits [C], y = x * g with one gate per channel,
  // shared by the whole batch and all pixels. g and dg/dlogits come from gate_value() below.
  // workspace receives [2, C] in x's dtype: g, then dg/dlogits, for the backward (and readers of
  // the sampled mask).
  virtual void gate_fwd(const GateDesc& d, const Tensor& x, const Tensor& logits, Tensor& y,
                        Tensor& workspace) = 0;
  // dx = dy * g (times [x > 0] with d.relu); dlogits = sum over N, H, W of dy * x * dg/dlogits
  // (relu(x) with d.relu). dx or dlogits may be undefined.
  virtual void gate_bwd(const GateDesc& d, const Tensor& x, const Tensor& dy,
                        const Tensor& workspace, Tensor& dx, Tensor& dlogits) = 0;

  // ---- row-wise terms of structure learning (morph/: group lasso, BN-scale L1, FiGS gates,
  // ResRep compactors). A row-major param x (rank >= 1) is viewed as [R, n], R = x.dim(0),
  // n = numel / R: one row per output channel (a conv filter, a BN scale, a compactor row). The
  // morph code needs a few numbers per channel and one update of each element, so these two ops
  // let only per-row numbers cross between host and device while the elements stay where x lives.
  // out [R, 3] in x's dtype: per row the sum of x^2, of |x| and of x, accumulated in double.
  virtual void row_stats(const Tensor& x, Tensor& out) = 0;
  // coef [R, 4] in x's dtype; y row-major of x's shape and dtype, and may be x itself (in place):
  //   y[r, j] = c0[r] y[r, j] + c1[r] x[r, j] + c2[r] sign(x[r, j]) + c3[r]       (sign(0) = 0)
  // as row_update_value() below computes it: in double, stored in y's dtype.
  virtual void row_update(const Tensor& x, const Tensor& coef, Tensor& y) = 0;
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
struct GateValue {
  double g, dg;  // the gate and d gate / d logit
};
MT_HOST_DEVICE inline GateValue gate_value(const GateDesc& d, double logit, uint64_t channel) {
  // sigmoid(z) and sigmoid(-z) = 1 - sigmoid(z) without cancellation, for any z.
  const auto sigmoid = [](double z) {
    return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z));
  };
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
