#include "trainers/optimizer.h"

#include <cmath>
#include <map>
#include <set>
#include <sstream>

namespace mt {

void check_option(bool ok, std::string_view who, std::string_view field, double value,
                  std::string_view rule) {
  MT_CHECK(ok, ConfigError, "[", who, "] ", field, " = ", value, " must be ", rule);
}

Optimizer::Optimizer(std::string_view who, std::vector<ParamRef> params,
                     std::vector<ParamGroup> groups, double lr, double weight_decay)
    : who_(who) {
  check_option(std::isfinite(weight_decay) && weight_decay >= 0, who, "weight_decay", weight_decay,
               ">= 0");
  set_lr(lr);
  std::set<std::string> names;
  for (ParamRef& ref : params) {
    MT_CHECK(ref.param && ref.param->defined(), ConfigError, "[", who, "] param '", ref.name,
             "' has no tensor");
    MT_CHECK(names.insert(ref.name).second, ConfigError, "[", who, "] param '", ref.name,
             "' is listed twice");
    Slot slot{std::move(ref), weight_decay, 1.0, 0, {}};
    for (size_t g = 0; g < groups.size(); ++g) {
      if (!groups[g].match || !groups[g].match(slot.ref.name)) continue;
      const std::string field = "param_groups[" + std::to_string(g) + "]";
      if (groups[g].weight_decay) {
        const double wd = *groups[g].weight_decay;
        check_option(std::isfinite(wd) && wd >= 0, who, field + ".weight_decay", wd, ">= 0");
        slot.weight_decay = wd;
      }
      const double scale = groups[g].lr_scale;
      check_option(std::isfinite(scale) && scale >= 0, who, field + ".lr_scale", scale, ">= 0");
      slot.lr_scale = scale;
      break;  // the first matching group wins
    }
    slots_.push_back(std::move(slot));
  }
}

void Optimizer::set_lr(double lr) {
  check_option(std::isfinite(lr) && lr >= 0, who_, "lr", lr, "finite and >= 0");
  lr_ = lr;
}

void Optimizer::allocate_state(KernelBackend& backend, Slot& slot) {
  const Tensor& p = *slot.ref.param;
  slot.buffers.clear();
  for (size_t i = 0; i < buffer_names().size(); ++i) {
    Tensor buf = Tensor::empty(p.shape(), p.dtype(), p.layout(), p.device());
    backend.fill(buf, 0.0);  // AdamW's moments start at zero; SGD overwrites on its first step
    slot.buffers.push_back(std::move(buf));
  }
}

void Optimizer::step(KernelBackend& backend) {
  for (Slot& slot : slots_) {
    const ParamRef& ref = slot.ref;
    if (!ref.grad || !ref.grad->defined()) continue;  // PyTorch skips params whose grad is None
    MT_CHECK(ref.grad->shape() == ref.param->shape() && ref.grad->dtype() == ref.param->dtype(),
             ShapeError, "[", who_, "] param '", ref.name, "' is ", ref.param->shape().str(), " ",
             dtype_name(ref.param->dtype()), " but its gradient is ", ref.grad->shape().str(), " ",
             dtype_name(ref.grad->dtype()));
    if (slot.buffers.size() != buffer_names().size()) allocate_state(backend, slot);
    ++slot.step;
    update(backend, ref, lr_ * slot.lr_scale, slot.weight_decay, slot.step, slot.buffers);
  }
  ++steps_;
}

namespace {
Tensor scalar_i64(int64_t v) {
  Tensor t = Tensor::empty(Shape{}, DType::i64);
  *t.data<int64_t>() = v;
  return t;
}
}  // namespace

NamedTensors Optimizer::state_dict() const {
  NamedTensors out;
  out.emplace_back("step", scalar_i64(steps_));
  const std::vector<std::string> names = buffer_names();
  for (const Slot& slot : slots_) {
    if (slot.step == 0) continue;
    out.emplace_back(slot.ref.name + ".step", scalar_i64(slot.step));
    for (size_t b = 0; b < names.size(); ++b)
      out.emplace_back(slot.ref.name + "." + names[b], slot.buffers[b]);
  }
  return out;
}

namespace {
const Tensor* find_entry(const std::map<std::string, const Tensor*>& by_name, const std::string& key) {
  const auto it = by_name.find(key);
  return it == by_name.end() ? nullptr : it->second;
}

bool is_step_scalar(const Tensor* t, int64_t min) {
  return t && t->dtype() == DType::i64 && t->rank() == 0 && *t->data<int64_t>() >= min;
}
}  // namespace

// Every mismatch between `state` and this optimizer, PyTorch load_state_dict style.
std::vector<std::string> Optimizer::check_state(const NamedTensors& state) const {
  std::vector<std::string> problems;
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [key, t] : state)
    if (!by_name.emplace(key, &t).second) problems.push_back("duplicate key '" + key + "'");
  std::set<std::string> used{"step"};
  if (!is_step_scalar(find_entry(by_name, "step"), 0))
    problems.push_back("missing or invalid key 'step' (an i64 scalar >= 0)");
  for (const Slot& slot : slots_) {
    const std::string step_key = slot.ref.name + ".step";
    const Tensor* step = find_entry(by_name, step_key);
    if (!step) continue;  // no state for this param: it starts fresh
    used.insert(step_key);
    if (!is_step_scalar(step, 1))
      problems.push_back("invalid '" + step_key + "' (an i64 scalar >= 1)");
    for (const std::string& b : buffer_names()) {
      const std::string key = slot.ref.name + "." + b;
      const Tensor* buf = find_entry(by_name, key);
      used.insert(key);
      if (!buf) problems.push_back("missing key '" + key + "'");
      else if (buf->shape() != slot.ref.param->shape() || buf->dtype() == DType::i64)
        problems.push_back("size mismatch for '" + key + "': " + buf->shape().str() + " " +
                           std::string(dtype_name(buf->dtype())) + " in the state, " +
                           slot.ref.param->shape().str() + " for the param");
    }
  }
  for (const auto& [key, t] : by_name)
    if (!used.count(key)) problems.push_back("unexpected key '" + key + "'");
  return problems;
}

void Optimizer::load_state_dict(const NamedTensors& state) {
  const std::vector<std::string> problems = check_state(state);
  if (!problems.empty()) {
    std::ostringstream msg;
    for (const std::string& p : problems) msg << "\n  " << p;
    MT_FAIL(ConfigError, "[", who_, "] error(s) loading the optimizer state:", msg.str());
  }
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [key, t] : state) by_name.emplace(key, &t);
  const std::vector<std::string> names = buffer_names();
  for (Slot& slot : slots_) {
    const Tensor* step = find_entry(by_name, slot.ref.name + ".step");
    if (!step) {
      slot.step = 0;
      slot.buffers.clear();  // reallocated (and zeroed) on the next step
      continue;
    }
    slot.step = *step->data<int64_t>();
    const Tensor& p = *slot.ref.param;
    if (slot.buffers.size() != names.size()) {
      slot.buffers.clear();
      for (size_t b = 0; b < names.size(); ++b)
        slot.buffers.push_back(Tensor::empty(p.shape(), p.dtype(), p.layout(), p.device()));
    }
    for (size_t b = 0; b < names.size(); ++b)
      slot.buffers[b].copy_from(*find_entry(by_name, slot.ref.name + "." + names[b]));
  }
  steps_ = *find_entry(by_name, "step")->data<int64_t>();
}

}  // namespace mt
