#include "kernels/reference/reference_backend.h"

#include "kernels/reference/batchnorm2d.h"
#include "kernels/reference/channel_pad.h"
#include "kernels/reference/concat.h"
#include "kernels/reference/conv2d.h"
#include "kernels/reference/dropout.h"
#include "kernels/reference/eltwise.h"
#include "kernels/reference/gate.h"
#include "kernels/reference/linear.h"
#include "kernels/reference/optim.h"
#include "kernels/reference/pool2d.h"
#include "kernels/reference/row_ops.h"
#include "kernels/reference/softmax_cross_entropy.h"

namespace mt {

namespace {

// Calls f with a value of the scalar type of `dtype` (its only use is decltype), so one generic
// lambda instantiates the f32 and the f64 kernel.
template <typename F>
decltype(auto) dispatch(std::string_view op, DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32:
      return f(float{});
    case DType::f64:
      return f(double{});
    default:
      break;
  }
  MT_FAIL(BackendError, "[", op, "] the reference backend computes in f32 or f64, got ",
          dtype_name(dtype));
}

// Data movement is type-blind, so labels (i64) copy and fill as well.
template <typename F>
void dispatch_any(std::string_view op, DType dtype, F&& f) {
  if (dtype == DType::i64) return f(int64_t{});
  dispatch(op, dtype, f);
}

}  // namespace

// The scalar type of dispatch's tag argument.
#define MT_TAG_T decltype(tag)

void ReferenceBackend::conv2d_fwd(const Conv2dDesc& d, const Tensor& x, const Tensor& w,
                                  const Tensor& b, Tensor& y) {
  dispatch("conv2d_fwd", x.dtype(),
           [&](auto tag) { reference::conv2d_fwd<MT_TAG_T>(d, x, w, b, y); });
}

void ReferenceBackend::conv2d_bwd_data(const Conv2dDesc& d, const Tensor& dy, const Tensor& w,
                                       Tensor& dx) {
  dispatch("conv2d_bwd_data", dy.dtype(),
           [&](auto tag) { reference::conv2d_bwd_data<MT_TAG_T>(d, dy, w, dx); });
}

void ReferenceBackend::conv2d_bwd_weights(const Conv2dDesc& d, const Tensor& x, const Tensor& dy,
                                          Tensor& dw, Tensor& db) {
  dispatch("conv2d_bwd_weights", x.dtype(),
           [&](auto tag) { reference::conv2d_bwd_weights<MT_TAG_T>(d, x, dy, dw, db); });
}

void ReferenceBackend::batchnorm_fwd_train(const BatchNormDesc& d, const Tensor& x,
                                           const Tensor& gamma, const Tensor& beta,
                                           Tensor& running_mean, Tensor& running_var, Tensor& y,
                                           Tensor& save_mean, Tensor& save_invstd) {
  dispatch("batchnorm_fwd_train", x.dtype(), [&](auto tag) {
    reference::batchnorm_fwd_train<MT_TAG_T>(d, x, gamma, beta, running_mean, running_var, y,
                                             save_mean, save_invstd);
  });
}

void ReferenceBackend::batchnorm_fwd_eval(const BatchNormDesc& d, const Tensor& x,
                                          const Tensor& gamma, const Tensor& beta,
                                          const Tensor& running_mean, const Tensor& running_var,
                                          Tensor& y) {
  dispatch("batchnorm_fwd_eval", x.dtype(), [&](auto tag) {
    reference::batchnorm_fwd_eval<MT_TAG_T>(d, x, gamma, beta, running_mean, running_var, y);
  });
}

void ReferenceBackend::batchnorm_fwd_saved(const BatchNormDesc&, const Tensor& x, const Tensor& gamma,
                                           const Tensor& beta, const Tensor& save_mean,
                                           const Tensor& save_invstd, bool relu, Tensor& y) {
  dispatch("batchnorm_fwd_saved", x.dtype(), [&](auto tag) {
    reference::batchnorm_fwd_saved<MT_TAG_T>(x, gamma, beta, save_mean, save_invstd, relu, y);
  });
}

void ReferenceBackend::batchnorm_bwd(const BatchNormDesc& d, const Tensor& x, const Tensor& dy,
                                     const Tensor& gamma, const Tensor& save_mean,
                                     const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                                     Tensor& dbeta) {
  dispatch("batchnorm_bwd", x.dtype(), [&](auto tag) {
    reference::batchnorm_bwd<MT_TAG_T>(d, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
  });
}

void ReferenceBackend::relu_fwd(const Tensor& x, Tensor& y) {
  dispatch("relu_fwd", x.dtype(), [&](auto tag) { reference::relu_fwd<MT_TAG_T>(x, y); });
}

void ReferenceBackend::relu_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) {
  dispatch("relu_bwd", y.dtype(), [&](auto tag) { reference::relu_bwd<MT_TAG_T>(y, dy, dx); });
}

void ReferenceBackend::sigmoid_fwd(const Tensor& x, Tensor& y) {
  dispatch("sigmoid_fwd", x.dtype(), [&](auto tag) { reference::sigmoid_fwd<MT_TAG_T>(x, y); });
}

void ReferenceBackend::sigmoid_bwd(const Tensor& y, const Tensor& dy, Tensor& dx) {
  dispatch("sigmoid_bwd", y.dtype(),
           [&](auto tag) { reference::sigmoid_bwd<MT_TAG_T>(y, dy, dx); });
}

void ReferenceBackend::relu6_fwd(const Tensor& x, Tensor& y) {
  dispatch("relu6_fwd", x.dtype(), [&](auto tag) { reference::relu6_fwd<MT_TAG_T>(x, y); });
}

void ReferenceBackend::relu6_bwd(const Tensor& x, const Tensor& dy, Tensor& dx) {
  dispatch("relu6_bwd", x.dtype(), [&](auto tag) { reference::relu6_bwd<MT_TAG_T>(x, dy, dx); });
}

void ReferenceBackend::hardsigmoid_fwd(const Tensor& x, Tensor& y) {
  dispatch("hardsigmoid_fwd", x.dtype(),
           [&](auto tag) { reference::hardsigmoid_fwd<MT_TAG_T>(x, y); });
}

void ReferenceBackend::hardsigmoid_bwd(const Tensor& x, const Tensor& dy, Tensor& dx) {
  dispatch("hardsigmoid_bwd", x.dtype(),
           [&](auto tag) { reference::hardsigmoid_bwd<MT_TAG_T>(x, dy, dx); });
}

void ReferenceBackend::hardswish_fwd(const Tensor& x, Tensor& y) {
  dispatch("hardswish_fwd", x.dtype(), [&](auto tag) { reference::hardswish_fwd<MT_TAG_T>(x, y); });
}

void ReferenceBackend::hardswish_bwd(const Tensor& x, const Tensor& dy, Tensor& dx) {
  dispatch("hardswish_bwd", x.dtype(),
           [&](auto tag) { reference::hardswish_bwd<MT_TAG_T>(x, dy, dx); });
}

void ReferenceBackend::add_fwd(const Tensor& a, const Tensor& b, Tensor& y) {
  dispatch("add_fwd", a.dtype(), [&](auto tag) { reference::add_fwd<MT_TAG_T>(a, b, y); });
}

void ReferenceBackend::mul_fwd(const Tensor& a, const Tensor& b, Tensor& y) {
  dispatch("mul_fwd", a.dtype(), [&](auto tag) { reference::mul_fwd<MT_TAG_T>(a, b, y); });
}

void ReferenceBackend::mul_bwd(const Tensor& a, const Tensor& b, const Tensor& dy, Tensor& da,
                               Tensor& db) {
  dispatch("mul_bwd", a.dtype(), [&](auto tag) { reference::mul_bwd<MT_TAG_T>(a, b, dy, da, db); });
}

void ReferenceBackend::add_inplace(Tensor& dst, const Tensor& src) {
  dispatch("add_inplace", dst.dtype(),
           [&](auto tag) { reference::add_inplace<MT_TAG_T>(dst, src); });
}

void ReferenceBackend::fill(Tensor& t, double value) {
  dispatch_any("fill", t.dtype(), [&](auto tag) { reference::fill<MT_TAG_T>(t, value); });
}

void ReferenceBackend::copy(const Tensor& src, Tensor& dst) {
  dispatch_any("copy", src.dtype(), [&](auto tag) { reference::copy<MT_TAG_T>(src, dst); });
}

void ReferenceBackend::maxpool_fwd(const Pool2dDesc& d, const Tensor& x, Tensor& y,
                                   Tensor& workspace) {
  dispatch("maxpool_fwd", x.dtype(),
           [&](auto tag) { reference::maxpool_fwd<MT_TAG_T>(d, x, y, workspace); });
}

void ReferenceBackend::maxpool_bwd(const Pool2dDesc& d, const Tensor& x, const Tensor& dy,
                                   const Tensor& workspace, Tensor& dx) {
  dispatch("maxpool_bwd", dy.dtype(),
           [&](auto tag) { reference::maxpool_bwd<MT_TAG_T>(d, x, dy, workspace, dx); });
}

void ReferenceBackend::avgpool_fwd(const Pool2dDesc& d, const Tensor& x, Tensor& y) {
  dispatch("avgpool_fwd", x.dtype(), [&](auto tag) { reference::avgpool_fwd<MT_TAG_T>(d, x, y); });
}

void ReferenceBackend::avgpool_bwd(const Pool2dDesc& d, const Tensor& dy, Tensor& dx) {
  dispatch("avgpool_bwd", dy.dtype(),
           [&](auto tag) { reference::avgpool_bwd<MT_TAG_T>(d, dy, dx); });
}

void ReferenceBackend::global_avgpool_fwd(const Tensor& x, Tensor& y) {
  dispatch("global_avgpool_fwd", x.dtype(),
           [&](auto tag) { reference::global_avgpool_fwd<MT_TAG_T>(x, y); });
}

void ReferenceBackend::global_avgpool_bwd(const Tensor& dy, Tensor& dx) {
  dispatch("global_avgpool_bwd", dy.dtype(),
           [&](auto tag) { reference::global_avgpool_bwd<MT_TAG_T>(dy, dx); });
}

void ReferenceBackend::linear_fwd(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  dispatch("linear_fwd", x.dtype(), [&](auto tag) { reference::linear_fwd<MT_TAG_T>(x, w, b, y); });
}

void ReferenceBackend::linear_bwd_data(const Tensor& dy, const Tensor& w, Tensor& dx) {
  dispatch("linear_bwd_data", dy.dtype(),
           [&](auto tag) { reference::linear_bwd_data<MT_TAG_T>(dy, w, dx); });
}

void ReferenceBackend::linear_bwd_weights(const Tensor& x, const Tensor& dy, Tensor& dw,
                                          Tensor& db) {
  dispatch("linear_bwd_weights", x.dtype(),
           [&](auto tag) { reference::linear_bwd_weights<MT_TAG_T>(x, dy, dw, db); });
}

void ReferenceBackend::concat_fwd(const std::vector<const Tensor*>& xs, Tensor& y) {
  dispatch("concat_fwd", y.dtype(), [&](auto tag) { reference::concat_fwd<MT_TAG_T>(xs, y); });
}

void ReferenceBackend::concat_bwd(const Tensor& dy, const std::vector<int64_t>& channels,
                                  const std::vector<Tensor*>& dxs) {
  dispatch("concat_bwd", dy.dtype(), [&](auto tag) { reference::concat_bwd<MT_TAG_T>(dy, channels, dxs); });
}

void ReferenceBackend::channel_pad_fwd(const ChannelPadDesc& d, const Tensor& x, Tensor& y) {
  dispatch("channel_pad_fwd", x.dtype(),
           [&](auto tag) { reference::channel_pad_fwd<MT_TAG_T>(d, x, y); });
}

void ReferenceBackend::channel_pad_bwd(const ChannelPadDesc& d, const Tensor& dy, Tensor& dx) {
  dispatch("channel_pad_bwd", dy.dtype(),
           [&](auto tag) { reference::channel_pad_bwd<MT_TAG_T>(d, dy, dx); });
}

void ReferenceBackend::dropout_fwd(double p, uint64_t seed, const Tensor& x, Tensor& y,
                                   Tensor& workspace) {
  dispatch("dropout_fwd", x.dtype(),
           [&](auto tag) { reference::dropout_fwd<MT_TAG_T>(p, seed, x, y, workspace); });
}

void ReferenceBackend::dropout_bwd(double p, const Tensor& workspace, const Tensor& dy,
                                   Tensor& dx) {
  dispatch("dropout_bwd", dy.dtype(),
           [&](auto tag) { reference::dropout_bwd<MT_TAG_T>(p, workspace, dy, dx); });
}

void ReferenceBackend::softmax_xent_fwd(double label_smoothing, const Tensor& logits,
                                        const Tensor& labels, Tensor& loss, Tensor& probs) {
  dispatch("softmax_xent_fwd", logits.dtype(), [&](auto tag) {
    reference::softmax_xent_fwd<MT_TAG_T>(label_smoothing, logits, labels, loss, probs);
  });
}

void ReferenceBackend::softmax_xent_bwd(double label_smoothing, const Tensor& probs,
                                        const Tensor& labels, const Tensor& dloss,
                                        Tensor& dlogits) {
  dispatch("softmax_xent_bwd", probs.dtype(), [&](auto tag) {
    reference::softmax_xent_bwd<MT_TAG_T>(label_smoothing, probs, labels, dloss, dlogits);
  });
}

void ReferenceBackend::sgd_step(const SgdDesc& d, Tensor& param, const Tensor& grad,
                                Tensor& momentum_buf) {
  dispatch("sgd_step", param.dtype(),
           [&](auto tag) { reference::sgd_step<MT_TAG_T>(d, param, grad, momentum_buf); });
}

void ReferenceBackend::adamw_step(const AdamWDesc& d, Tensor& param, const Tensor& grad,
                                  Tensor& exp_avg, Tensor& exp_avg_sq) {
  dispatch("adamw_step", param.dtype(),
           [&](auto tag) { reference::adamw_step<MT_TAG_T>(d, param, grad, exp_avg, exp_avg_sq); });
}

double ReferenceBackend::sum_squares(const Tensor& t) {
  return dispatch("sum_squares", t.dtype(),
                  [&](auto tag) { return reference::sum_squares<MT_TAG_T>(t); });
}

void ReferenceBackend::scale_inplace(Tensor& t, double factor) {
  dispatch("scale_inplace", t.dtype(),
           [&](auto tag) { reference::scale_inplace<MT_TAG_T>(t, factor); });
}

void ReferenceBackend::gate_fwd(const GateDesc& d, const Tensor& x, const Tensor& logits,
                                Tensor& y, Tensor& workspace) {
  dispatch("gate_fwd", x.dtype(),
           [&](auto tag) { reference::gate_fwd<MT_TAG_T>(d, x, logits, y, workspace); });
}

void ReferenceBackend::gate_bwd(const GateDesc& d, const Tensor& x, const Tensor& dy,
                                const Tensor& workspace, Tensor& dx, Tensor& dlogits) {
  dispatch("gate_bwd", x.dtype(),
           [&](auto tag) { reference::gate_bwd<MT_TAG_T>(d, x, dy, workspace, dx, dlogits); });
}

void ReferenceBackend::row_stats(const Tensor& x, Tensor& out) {
  dispatch("row_stats", x.dtype(), [&](auto tag) { reference::row_stats<MT_TAG_T>(x, out); });
}

void ReferenceBackend::row_update(const Tensor& x, const Tensor& coef, Tensor& y) {
  dispatch("row_update", x.dtype(),
           [&](auto tag) { reference::row_update<MT_TAG_T>(x, coef, y); });
}

#undef MT_TAG_T

}  // namespace mt
