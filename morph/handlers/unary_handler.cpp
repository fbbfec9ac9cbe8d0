// relu, sigmoid, relu6, hardsigmoid, hardswish, dropout: channel c of the output is f(channel c
// of the input). A zero channel stays 0 through all but sigmoid (0.5) and hardsigmoid (0.5).
#include <algorithm>
#include <cmath>

#include "core/hard_activations.h"
#include "morph/constant_propagation.h"
#include "morph/handlers/handler_util.h"
#include "morph/handlers/handlers.h"

namespace mt::morph {

namespace {

double relu(double x) { return std::isnan(x) ? x : std::max(x, 0.0); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double identity(double x) { return x; }  // dropout is the identity in eval mode

class UnaryHandler final : public PassThroughHandler {
 public:
  // counts_memory: whether MorphNet's latency model lists the op (of these, Relu and Relu6).
  UnaryHandler(double (*f)(double), bool counts_memory) : f_(f), counts_memory_(counts_memory) {}
  Channels constants(const ConstantPropagation& p, int node) const override {
    return map_channels(p.in(node), f_);
  }
  bool counts_memory() const override { return counts_memory_; }

 private:
  double (*f_)(double);
  bool counts_memory_;
};

}  // namespace

const OpHandler& relu_handler() {
  static const UnaryHandler h(relu, true);
  return h;
}
const OpHandler& sigmoid_handler() {
  static const UnaryHandler h(sigmoid, false);
  return h;
}
// The engine's own formulas in double; a NaN ("varies") stays NaN through them.
const OpHandler& relu6_handler() {
  static const UnaryHandler h(relu6_value<double>, true);
  return h;
}
const OpHandler& hardsigmoid_handler() {
  static const UnaryHandler h(hardsigmoid_value<double>, false);
  return h;
}
const OpHandler& hardswish_handler() {
  static const UnaryHandler h(hardswish_value<double>, false);
  return h;
}
const OpHandler& dropout_handler() {
  static const UnaryHandler h(identity, false);
  return h;
}

}  // namespace mt::morph
