// Pooling keeps its input's channels. A window's max or average of a constant is that constant,
// unless padding (or a ceil-mode overhang) brings other values into a border window and the
// average does not leave them out; a 0 stays 0 either way.
#include "core/ops/pool2d.h"
#include "morph/constant_propagation.h"
#include "morph/handlers/handler_util.h"
#include "morph/handlers/handlers.h"

namespace mt::morph {

namespace {

class WindowPoolHandler final : public PassThroughHandler {
 public:
  explicit WindowPoolHandler(bool average) : average_(average) {}
  Channels constants(const ConstantPropagation& p, int node) const override {
    const Op& op = *p.graph().node(node).op;
    const Pool2dDesc& d = average_ ? dynamic_cast<const AvgPool2dOp&>(op).desc()
                                   : dynamic_cast<const MaxPool2dOp&>(op).desc();
    const bool plain = d.pad_h == 0 && d.pad_w == 0 && !d.ceil_mode;
    const bool keeps = plain || (average_ && !d.count_include_pad && !d.ceil_mode);
    Channels out = p.in(node);
    for (double& x : out)
      if (x != 0 && !keeps) x = kVaries;
    return out;
  }

 private:
  bool average_;
};

class GlobalPoolHandler final : public PassThroughHandler {
 public:
  Channels constants(const ConstantPropagation& p, int node) const override { return p.in(node); }
};

}  // namespace

const OpHandler& maxpool_handler() {
  static const WindowPoolHandler h(false);
  return h;
}
const OpHandler& avgpool_handler() {
  static const WindowPoolHandler h(true);
  return h;
}
const OpHandler& global_avgpool_handler() {
  static const GlobalPoolHandler h;
  return h;
}

}  // namespace mt::morph
