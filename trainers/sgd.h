#pragma once
// torch.optim.SGD: momentum, dampening, Nesterov, L2 weight decay folded into the gradient, or
// decoupled (SGDW: p *= 1 - lr * wd, outside the momentum).
#include "trainers/optimizer.h"

namespace mt {

struct SgdOptions {
  double lr = 0.1;
  double momentum = 0;   // [0, 1)
  double dampening = 0;  // [0, 1]
  double weight_decay = 0;
  bool nesterov = false;  // needs momentum > 0 and dampening 0
  bool decoupled_weight_decay = false;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<ParamRef> params, const SgdOptions& options, std::vector<ParamGroup> groups = {});
  std::string_view name() const override { return "sgd"; }
  const SgdOptions& options() const { return options_; }

 protected:
  std::vector<std::string> buffer_names() const override;
  void update(KernelBackend& backend, const ParamRef& p, double lr, double weight_decay,
              int64_t step, std::vector<Tensor>& buffers) override;

 private:
  SgdOptions options_;
};

// Throws ConfigError naming the first invalid field.
void validate(const SgdOptions& o);

}  // namespace mt
