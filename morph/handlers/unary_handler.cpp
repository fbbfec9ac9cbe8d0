// relu, sigmoid, dropout: channel c of the output is f(channel c of the input).
#include <algorithm>
#include <cmath>

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
  // counts_memory: whether MorphNet's latency model lists the op (it lists Relu only).
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
const OpHandler& dropout_handler() {
  static const UnaryHandler h(identity, false);
  return h;
}

}  // namespace mt::morph
