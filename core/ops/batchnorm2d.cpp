#include "core/ops/batchnorm2d.h"

namespace mt {

// State slots of the node: the batch mean and inverse std saved by the training forward.
enum { kSaveMean = 0, kSaveInvstd = 1 };

std::vector<Shape> BatchNorm2dOp::infer_shapes(const std::vector<Shape>& in) const {
  MT_CHECK(in.size() == 6, ShapeError, "[batchnorm2d] expects 6 inputs (x, weight, bias, ",
           "running_mean, running_var, num_batches_tracked), got ", in.size());
  MT_CHECK(in[0].rank() == 4, ShapeError, "[batchnorm2d] x ", in[0].str(), " must be rank 4");
  const Shape c{in[0][1]};
  for (int i = 1; i <= 4; ++i)
    MT_CHECK(in[i] == c, ShapeError, "[batchnorm2d] parameter ", i, " has shape ", in[i].str(),
             ", expected ", c.str());
  return {in[0]};
}

void BatchNorm2dOp::forward(OpContext& ctx) const {
  auto& running_mean = const_cast<Tensor&>(ctx.in(3));
  auto& running_var = const_cast<Tensor&>(ctx.in(4));
  if (ctx.mode == Mode::eval) {
    if (ctx.fused_relu)
      ctx.backend.batchnorm_relu_fwd_eval(desc_, ctx.in(0), ctx.in(1), ctx.in(2), running_mean,
                                          running_var, ctx.out(0));
    else
      ctx.backend.batchnorm_fwd_eval(desc_, ctx.in(0), ctx.in(1), ctx.in(2), running_mean, running_var,
                                     ctx.out(0));
    return;
  }
  const Shape c{ctx.in(0).dim(1)};
  Tensor& mean = ctx.state_at(kSaveMean);
  Tensor& invstd = ctx.state_at(kSaveInvstd);
  if (!mean.defined() || mean.shape() != c || mean.dtype() != ctx.in(0).dtype()) {
    mean = Tensor::empty(c, ctx.in(0).dtype(), Layout::nchw, ctx.backend.device());
    invstd = Tensor::empty(c, ctx.in(0).dtype(), Layout::nchw, ctx.backend.device());
  }
  if (ctx.fused_relu)
    ctx.backend.batchnorm_relu_fwd_train(desc_, ctx.in(0), ctx.in(1), ctx.in(2), running_mean,
                                         running_var, ctx.out(0), mean, invstd);
  else
    ctx.backend.batchnorm_fwd_train(desc_, ctx.in(0), ctx.in(1), ctx.in(2), running_mean, running_var,
                                    ctx.out(0), mean, invstd);
  // The counter is a host-side bookkeeping value (PyTorch's num_batches_tracked).
  const Tensor& tracked = ctx.in(5);
  if (tracked.device().kind == DeviceKind::cpu) ++*tracked.data<int64_t>();
}

void BatchNorm2dOp::recompute(OpContext& ctx) const {
  MT_CHECK(ctx.mode == Mode::train, BackendError,
           "[batchnorm2d] backward through an eval-mode forward is not supported; run the ",
           "forward in train mode");
  ctx.backend.batchnorm_fwd_saved(desc_, ctx.in(0), ctx.in(1), ctx.in(2), ctx.state_at(kSaveMean),
                                  ctx.state_at(kSaveInvstd), ctx.fused_relu, ctx.out(0));
}

void BatchNorm2dOp::backward(OpContext& ctx) const {
  MT_CHECK(ctx.mode == Mode::train, BackendError,
           "[batchnorm2d] backward through an eval-mode forward is not supported; run the ",
           "forward in train mode");
  Tensor none0, none1, none2;
  Tensor& dx = ctx.wants_dinput(0) ? ctx.din(0) : none0;
  Tensor& dgamma = ctx.wants_dinput(1) ? ctx.din(1) : none1;
  Tensor& dbeta = ctx.wants_dinput(2) ? ctx.din(2) : none2;
  if (ctx.fused_relu) {
    // The executor owns the fused output's gradient and lets the backend mask it in place.
    ctx.backend.batchnorm_relu_bwd(desc_, ctx.in(0), ctx.out(0), const_cast<Tensor&>(ctx.dout(0)),
                                   ctx.in(1), ctx.in(2), ctx.state_at(kSaveMean), ctx.state_at(kSaveInvstd), dx,
                                   dgamma, dbeta);
    return;
  }
  ctx.backend.batchnorm_bwd(desc_, ctx.in(0), ctx.dout(0), ctx.in(1), ctx.state_at(kSaveMean),
                            ctx.state_at(kSaveInvstd), dx, dgamma, dbeta);
}

}  // namespace mt
