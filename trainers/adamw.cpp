#include "trainers/adamw.h"

#include <cmath>

namespace mt {

void validate(const AdamWOptions& o) {
  check_option(std::isfinite(o.lr) && o.lr >= 0, "adamw", "lr", o.lr, "finite and >= 0");
  check_option(o.beta1 >= 0 && o.beta1 < 1, "adamw", "beta1", o.beta1, "in [0, 1)");
  check_option(o.beta2 >= 0 && o.beta2 < 1, "adamw", "beta2", o.beta2, "in [0, 1)");
  check_option(std::isfinite(o.eps) && o.eps > 0, "adamw", "eps", o.eps, "> 0");
  check_option(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "adamw", "weight_decay",
               o.weight_decay, ">= 0");
}

namespace {
// Runs before the base class sees lr and weight decay, so the first error names the real culprit.
const AdamWOptions& validated(const AdamWOptions& o) {
  validate(o);
  return o;
}
}  // namespace

AdamW::AdamW(std::vector<ParamRef> params, const AdamWOptions& options,
             std::vector<ParamGroup> groups)
    : Optimizer("adamw", std::move(params), std::move(groups), validated(options).lr,
                options.weight_decay),
      options_(options) {}

void AdamW::update(KernelBackend& backend, const ParamRef& p, double lr, double weight_decay,
                   int64_t step, std::vector<Tensor>& buffers) {
  AdamWDesc d;
  d.lr = lr;
  d.beta1 = options_.beta1;
  d.beta2 = options_.beta2;
  d.eps = options_.eps;
  d.weight_decay = weight_decay;
  d.step = step;
  backend.adamw_step(d, *p.param, *p.grad, buffers[0], buffers[1]);
}

}  // namespace mt
