#pragma once
// torch.optim.AdamW: decoupled weight decay (p *= 1 - lr * wd), bias-corrected moments.
#include "trainers/optimizer.h"

namespace mt {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;  // [0, 1)
  double eps = 1e-8;                  // > 0
  double weight_decay = 1e-2;         // PyTorch's AdamW default
};

class AdamW : public Optimizer {
 public:
  AdamW(std::vector<ParamRef> params, const AdamWOptions& options,
        std::vector<ParamGroup> groups = {});
  std::string_view name() const override { return "adamw"; }
  const AdamWOptions& options() const { return options_; }

 protected:
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  void update(KernelBackend& backend, const ParamRef& p, double lr, double weight_decay,
              int64_t step, std::vector<Tensor>& buffers) override;

 private:
  AdamWOptions options_;
};

// Throws ConfigError naming the first invalid field.
void validate(const AdamWOptions& o);

}  // namespace mt
