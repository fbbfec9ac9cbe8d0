// Inference of conv -> batch norm (-> ReLU) as one convolution: with s = gamma / sqrt(var + eps),
//   bn(conv(x, w) + b) = conv(x, w * s[o]) + (b - mean) * s + beta,
// so the batch norm costs a pass over the (small) weights instead of one over the activations,
// and the ReLU rides along as a oneDNN post-op.
#include <cmath>

#include "kernels/cpu/conv_thin.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_util.h"

namespace mt {

namespace {

struct Folded {
  Tensor w, b;
};

// The conv's weights and bias with the batch norm folded in. Folded every call: the parameters
// may have changed since the last one. These blocks come back from the caching allocator, so a
// steady-state call still allocates nothing.
Folded fold(std::string_view op, const Tensor& w, const Tensor& b, const BatchNormDesc& bd, const Tensor& gamma,
            const Tensor& beta, const Tensor& running_mean, const Tensor& running_var) {
  cpu::check_f32(op, {&w, &b, &gamma, &beta, &running_mean, &running_var});
  const int64_t out = w.dim(0), per_filter = w.numel() / std::max<int64_t>(out, 1);
  MT_CHECK(running_mean.numel() == out && running_var.numel() == out, ShapeError, "[", op,
           "] batch norm over ", running_mean.numel(), " channels after a conv with ", out, " filters");
  Tensor folded_w = Tensor::empty(w.shape());  // [O, I/g, kH, kW]
  Tensor folded_b = Tensor::empty({out});      // [O]
  const float* pw = w.data<float>();
  float* fw = folded_w.data<float>();
  float* fb = folded_b.data<float>();
  for (int64_t o = 0; o < out; ++o) {
    const double g = gamma.defined() ? gamma.data<float>()[o] : 1.0;
    const double s = g / std::sqrt(static_cast<double>(running_var.data<float>()[o]) + bd.eps);
    const double bias = b.defined() ? b.data<float>()[o] : 0.0;
    const double shift = beta.defined() ? beta.data<float>()[o] : 0.0;
    fb[o] = static_cast<float>((bias - running_mean.data<float>()[o]) * s + shift);
    for (int64_t i = 0; i < per_filter; ++i)
      fw[o * per_filter + i] = static_cast<float>(pw[o * per_filter + i] * s);
  }
  return {folded_w, folded_b};
}

}  // namespace

void CpuBackend::conv2d_bn_fwd_eval(const Conv2dDesc& cd, const Tensor& x, const Tensor& w,
                                    const Tensor& b, const BatchNormDesc& bd, const Tensor& gamma,
                                    const Tensor& beta, const Tensor& running_mean,
                                    const Tensor& running_var, bool relu, Tensor& y) {
  const Folded f = fold("conv2d_bn_fwd_eval", w, b, bd, gamma, beta, running_mean, running_var);
  conv_forward(cd, x, f.w, f.b, y, relu, false, true);
}

// The residual rides along as oneDNN's sum post-op (before the ReLU's): the add's pass over
// memory is saved. The thin-channel kernels have no such epilogue and take the composed default.
void CpuBackend::conv2d_bn_add_fwd_eval(const Conv2dDesc& cd, const Tensor& x, const Tensor& w,
                                        const Tensor& b, const BatchNormDesc& bd, const Tensor& gamma,
                                        const Tensor& beta, const Tensor& running_mean,
                                        const Tensor& running_var, bool relu, Tensor& y) {
  if (cpu::thin_conv_applies(cd, x, w, y)) {
    KernelBackend::conv2d_bn_add_fwd_eval(cd, x, w, b, bd, gamma, beta, running_mean, running_var, relu, y);
    return;
  }
  const Folded f = fold("conv2d_bn_add_fwd_eval", w, b, bd, gamma, beta, running_mean, running_var);
  conv_forward(cd, x, f.w, f.b, y, relu, true, true);
}

}  // namespace mt
