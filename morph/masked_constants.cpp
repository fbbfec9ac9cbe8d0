#include "morph/masked_constants.h"

#include <cmath>
#include <limits>

#include "core/ops/batchnorm2d.h"
#include "core/ops/channel_pad.h"
#include "core/ops/conv2d.h"
#include "core/ops/pool2d.h"
#include "morph/host_view.h"

namespace mt::morph {

namespace {

constexpr double kVaries = std::numeric_limits<double>::quiet_NaN();
using Channels = std::vector<double>;

Channels map(const Channels& in, double (*f)(double)) {
  Channels out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = f(in[i]);  // NaN stays NaN
  return out;
}

double relu(double x) { return std::isnan(x) ? x : std::max(x, 0.0); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

class Propagator {
 public:
  Propagator(const ChannelGroups& groups, const std::vector<bool>& masked)
      : groups_(groups), g_(groups.graph()), masked_(masked), c_(g_.num_values()) {}

  std::vector<Channels> run() {
    for (ValueId in : g_.inputs()) c_[in].assign(channels(in), kVaries);
    for (int node : groups_.nodes()) {
      const Node& n = g_.node(node);
      c_[n.outputs[0]] = visit(n, node);
      for (size_t o = 1; o < n.outputs.size(); ++o) c_[n.outputs[o]].assign(channels(n.outputs[o]), kVaries);
    }
    return std::move(c_);
  }

 private:
  size_t channels(ValueId v) const {
    const Shape& s = groups_.shapes()[v];
    return s.rank() >= 2 ? static_cast<size_t>(s[1]) : 0;
  }
  const Channels& in(const Node& n, int i = 0) const { return c_[n.inputs[i]]; }
  HostView param(ValueId v) const { return HostView(g_.value(v).data, g_.value(v).name); }

  Channels visit(const Node& n, int node);
  Channels compactor(const Node& n) const;
  Channels batchnorm(const Node& n) const;
  Channels conv(const Node& n, int node) const;
  Channels pool(const Node& n, const Pool2dDesc& d, bool average) const;
  Channels elementwise(const Node& n) const;
  Channels flatten(const Node& n) const;
  Channels channel_pad(const Node& n) const;

  const ChannelGroups& groups_;
  const Graph& g_;
  const std::vector<bool>& masked_;
  std::vector<Channels> c_;
};

Channels Propagator::visit(const Node& n, int node) {
  const std::string_view kind = n.op->kind();
  if (kind == "compactor") return compactor(n);
  if (kind == "batchnorm2d") return batchnorm(n);
  if (kind == "relu") return map(in(n), relu);
  if (kind == "sigmoid") return map(in(n), sigmoid);
  if (kind == "dropout" || kind == "global_avgpool2d") return in(n);
  if (kind == "maxpool2d") return pool(n, dynamic_cast<const MaxPool2dOp&>(*n.op).desc(), false);
  if (kind == "avgpool2d") return pool(n, dynamic_cast<const AvgPool2dOp&>(*n.op).desc(), true);
  if (kind == "conv2d") return conv(n, node);
  if (kind == "add" || kind == "mul") return elementwise(n);
  if (kind == "flatten") return flatten(n);
  if (kind == "channel_pad") return channel_pad(n);
  if (kind == "concat") {
    Channels out;
    for (size_t i = 0; i < n.inputs.size(); ++i) out.insert(out.end(), in(n, i).begin(), in(n, i).end());
    return out;
  }
  return Channels(channels(n.outputs[0]), kVaries);
}

Channels Propagator::compactor(const Node& n) const {
  const std::vector<int>& rows = groups_.channel_groups(n.outputs[0]);
  Channels out(rows.size(), kVaries);
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i] != ChannelGroups::kNone && masked_[rows[i]]) out[i] = 0;
  return out;
}

Channels Propagator::batchnorm(const Node& n) const {
  const double eps = dynamic_cast<const BatchNorm2dOp&>(*n.op).desc().eps;
  const HostView gamma = param(n.inputs[1]), beta = param(n.inputs[2]), mean = param(n.inputs[3]),
                 var = param(n.inputs[4]);
  Channels out = in(n);
  for (size_t c = 0; c < out.size(); ++c)
    out[c] = (out[c] - mean[c]) / std::sqrt(var[c] + eps) * gamma[c] + beta[c];
  return out;
}

Channels Propagator::conv(const Node& n, int node) const {
  Channels out(channels(n.outputs[0]), kVaries);
  if (!is_depthwise_conv(g_, groups_.shapes(), node)) return out;
  const Conv2dDesc& d = dynamic_cast<const Conv2dOp&>(*n.op).desc();
  const bool padded = d.pad_h > 0 || d.pad_w > 0;
  const HostView w = param(n.inputs[1]);  // [C, 1, kH, kW]
  const int64_t taps = w.size() / static_cast<int64_t>(out.size());
  for (size_t c = 0; c < out.size(); ++c) {
    const double x = in(n)[c];
    if (std::isnan(x) || (padded && x != 0)) continue;
    double sum = 0;
    for (int64_t k = 0; k < taps; ++k) sum += w[static_cast<int64_t>(c) * taps + k];
    out[c] = x * sum + (n.inputs.size() > 2 ? param(n.inputs[2])[static_cast<int64_t>(c)] : 0.0);
  }
  return out;
}

Channels Propagator::pool(const Node& n, const Pool2dDesc& d, bool average) const {
  // Padding (or a ceil-mode overhang) can bring other values into a border window, unless an
  // average leaves the padding out; a 0 stays 0 either way.
  const bool plain = d.pad_h == 0 && d.pad_w == 0 && !d.ceil_mode;
  const bool keeps = plain || (average && !d.count_include_pad && !d.ceil_mode);
  Channels out = in(n);
  for (double& x : out)
    if (x != 0 && !keeps) x = kVaries;
  return out;
}

Channels Propagator::elementwise(const Node& n) const {
  const Channels& a = in(n);
  const ValueId b = n.inputs[1];
  const ValueKind kind = g_.value(b).kind;
  Channels out(a.size(), kVaries);
  if (kind == ValueKind::activation || kind == ValueKind::input) {
    const bool add = n.op->kind() == "add";
    for (size_t c = 0; c < a.size(); ++c) out[c] = add ? a[c] + c_[b][c] : a[c] * c_[b][c];
  } else if (n.op->kind() == "mul" && g_.value(b).shape == Shape{static_cast<int64_t>(a.size())}) {
    const HostView s = param(b);
    for (size_t c = 0; c < a.size(); ++c) out[c] = a[c] * s[static_cast<int64_t>(c)];
  }
  return out;
}

Channels Propagator::flatten(const Node& n) const {
  const Shape& s = groups_.shapes()[n.inputs[0]];
  if (s.rank() <= 2) return in(n);
  const int64_t per_channel = s.numel() / (s[0] * s[1]);
  Channels out;
  for (double x : in(n)) out.insert(out.end(), static_cast<size_t>(per_channel), x);
  return out;
}

Channels Propagator::channel_pad(const Node& n) const {
  const ChannelPadDesc& d = dynamic_cast<const ChannelPadOp&>(*n.op).desc();
  Channels out(static_cast<size_t>(d.pad_before), 0.0);
  out.insert(out.end(), in(n).begin(), in(n).end());
  out.insert(out.end(), static_cast<size_t>(d.pad_after), 0.0);
  return out;
}

}  // namespace

std::vector<std::vector<double>> masked_constants(const ChannelGroups& groups, const std::vector<bool>& masked) {
  MT_CHECK(static_cast<int>(masked.size()) == groups.num_groups(), ShapeError, "[resrep] ", masked.size(),
           " mask bits for ", groups.num_groups(), " channel groups");
  return Propagator(groups, masked).run();
}

}  // namespace mt::morph
