#include "trainers/sgd.h"

#include <cmath>

namespace mt {

void validate(const SgdOptions& o) {
  check_option(std::isfinite(o.lr) && o.lr >= 0, "sgd", "lr", o.lr, "finite and >= 0");
  check_option(o.momentum >= 0 && o.momentum < 1, "sgd", "momentum", o.momentum, "in [0, 1)");
  check_option(o.dampening >= 0 && o.dampening <= 1, "sgd", "dampening", o.dampening, "in [0, 1]");
  check_option(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "sgd", "weight_decay",
               o.weight_decay, ">= 0");
  MT_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), ConfigError,
           "[sgd] nesterov = true needs momentum > 0 and dampening = 0 (got momentum = ",
           o.momentum, ", dampening = ", o.dampening, ")");
}

namespace {
// Runs before the base class sees lr and weight decay, so the first error names the real culprit.
const SgdOptions& validated(const SgdOptions& o) {
  validate(o);
  return o;
}
}  // namespace

Sgd::Sgd(std::vector<ParamRef> params, const SgdOptions& options, std::vector<ParamGroup> groups)
    : Optimizer("sgd", std::move(params), std::move(groups), validated(options).lr,
                options.weight_decay),
      options_(options) {}

std::vector<std::string> Sgd::buffer_names() const {
  // PyTorch keeps no momentum buffer without momentum; neither do we.
  if (options_.momentum == 0) return {};
  return {"momentum_buffer"};
}

void Sgd::update(KernelBackend& backend, const ParamRef& p, double lr, double weight_decay,
                 int64_t step, std::vector<Tensor>& buffers) {
  SgdDesc d;
  d.lr = lr;
  d.momentum = options_.momentum;
  d.dampening = options_.dampening;
  d.weight_decay = weight_decay;
  d.nesterov = options_.nesterov;
  d.decoupled_weight_decay = options_.decoupled_weight_decay;
  d.first_step = step == 1;  // the buffer starts as the first gradient
  Tensor none;
  backend.sgd_step(d, *p.param, *p.grad, buffers.empty() ? none : buffers[0]);
}

}  // namespace mt
