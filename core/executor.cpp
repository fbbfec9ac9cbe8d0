#include "core/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace mt {

Executor::Executor(Graph& graph, KernelBackend& backend, Options options)
    : graph_(graph), backend_(backend), options_(options) {
  // A value needs a gradient when a parameter (or, for gradchecks, an input) flows into it
  // through differentiable edges.
  requires_grad_.assign(graph_.num_values(), false);
  for (ValueId p : graph_.params()) requires_grad_[p] = true;
  if (options_.input_grads)
    for (ValueId in : graph_.inputs())
      requires_grad_[in] = graph_.value(in).dtype != DType::i64;
  for (const Node& node : graph_.nodes()) {
    bool any = false;
    for (size_t i = 0; i < node.inputs.size(); ++i)
      any |= requires_grad_[node.inputs[i]] && node.op->differentiable_input(static_cast<int>(i));
    for (ValueId out : node.outputs) requires_grad_[out] = any;
  }
  node_state_.resize(graph_.nodes().size());
  const char* env = std::getenv("MORPHTRAIN_PROFILE");
  options_.profile |= env && std::string(env) == "1";
  if (options_.profile) {
    forward_seconds_.assign(graph_.nodes().size(), 0);
    backward_seconds_.assign(graph_.nodes().size(), 0);
  }
}

namespace {
using Clock = std::chrono::steady_clock;
}

std::string Executor::profile_report() const {
  if (!options_.profile) return "";
  std::map<std::string, std::pair<double, double>> by_kind;
  double total = 0;
  for (size_t n = 0; n < forward_seconds_.size(); ++n) {
    auto& k = by_kind[std::string(graph_.node(static_cast<int>(n)).op->kind())];
    k.first += forward_seconds_[n];
    k.second += backward_seconds_[n];
    total += forward_seconds_[n] + backward_seconds_[n];
  }
  std::vector<std::pair<std::string, std::pair<double, double>>> rows(by_kind.begin(), by_kind.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second.first + a.second.second > b.second.first + b.second.second;
  });
  std::string out = "op kind                  forward s   backward s   share\n";
  char line[160];
  for (const auto& [kind, t] : rows) {
    std::snprintf(line, sizeof line, "%-22s %11.3f %12.3f %6.1f%%\n", kind.c_str(), t.first, t.second,
                  total > 0 ? 100 * (t.first + t.second) / total : 0.0);
    out += line;
  }
  return out;
}

Tensor Executor::allocate_like_value(ValueId v, const Shape& shape) const {
  const Value& val = graph_.value(v);
  bool activation_layout = shape.rank() == 4;
  if (val.producer >= 0) activation_layout &= graph_.node(val.producer).op->activation_output();
  if (val.kind == ValueKind::param || val.kind == ValueKind::buffer) activation_layout = false;
  const Layout layout = activation_layout ? backend_.activation_layout() : Layout::nchw;
  return Tensor::empty(shape, val.dtype, layout, backend_.device());
}

void Executor::plan(const std::vector<Tensor>& feeds) {
  const int nv = graph_.num_values();
  shapes_.assign(nv, Shape{});
  values_.assign(nv, Tensor{});
  grads_.assign(nv, Tensor{});
  scratch_.assign(nv, Tensor{});
  grad_written_.assign(nv, false);
  for (auto& s : node_state_) s.clear();

  shapes_ = infer_value_shapes(graph_, feeds.empty() ? 0 : feeds[0].dim(0));
  for (const Node& node : graph_.nodes()) {
    // Activations take the float type of the node's inputs (f32, or f64 in gradient checks).
    DType dtype = DType::f32;
    for (ValueId in : node.inputs)
      if (graph_.value(in).dtype != DType::i64) { dtype = graph_.value(in).dtype; break; }
    for (ValueId out : node.outputs) graph_.value(out).dtype = dtype;
  }
  for (ValueId v = 0; v < nv; ++v) {
    const ValueKind kind = graph_.value(v).kind;
    if (kind == ValueKind::input || kind == ValueKind::activation)
      values_[v] = allocate_like_value(v, shapes_[v]);
  }
  std::vector<int> uses(nv, 0);
  for (const Node& node : graph_.nodes())
    for (ValueId in : node.inputs) ++uses[in];
  for (ValueId v = 0; v < nv; ++v) {
    if (!requires_grad_[v]) continue;
    const bool is_state = graph_.value(v).kind == ValueKind::param;
    grads_[v] = is_state ? Tensor::empty(shapes_[v], graph_.value(v).dtype, Layout::nchw, backend_.device())
                         : allocate_like_value(v, shapes_[v]);
    if (uses[v] > 1) scratch_[v] = Tensor::empty(shapes_[v], grads_[v].dtype(),
                                                                    grads_[v].layout(), backend_.device());
  }
  planned_feed_shapes_.clear();
  for (const Tensor& f : feeds) planned_feed_shapes_.push_back(f.shape());
}

const Tensor& Executor::value(ValueId v) const {
  const Value& val = graph_.value(v);
  if (val.kind == ValueKind::param || val.kind == ValueKind::buffer) return val.data;
  MT_CHECK(v < static_cast<ValueId>(values_.size()) && values_[v].defined(), ShapeError,
           "value '", val.name, "' has not been computed: run forward first");
  return values_[v];
}

const Tensor& Executor::grad(ValueId v) const {
  MT_CHECK(v < static_cast<ValueId>(grads_.size()) && grads_[v].defined(), ShapeError,
           "value '", graph_.value(v).name, "' has no gradient: it does not require one, or ",
           "backward has not run");
  return grads_[v];
}

OpContext Executor::context(int n, Mode mode) {
  const Node& node = graph_.node(n);
  const uint64_t node_seed = seed_ ^ (0x9E3779B97F4A7C15ull * (step_ + 1)) ^ (0xD1B54A32D192ED03ull * (n + 1));
  OpContext ctx{backend_, mode, node_seed, {}, {}, node_state_[n], {}, {}};
  for (ValueId in : node.inputs) {
    const Value& val = graph_.value(in);
    ctx.inputs.push_back((val.kind == ValueKind::param || val.kind == ValueKind::buffer)
                             ? &graph_.value(in).data : &values_[in]);
  }
  for (ValueId out : node.outputs) ctx.outputs.push_back(&values_[out]);
  return ctx;
}

void Executor::forward(const std::vector<Tensor>& feeds, Mode mode) {
  const auto& inputs = graph_.inputs();
  MT_CHECK(feeds.size() == inputs.size(), ShapeError, "forward: the graph has ", inputs.size(),
           " inputs, ", feeds.size(), " tensors fed");
  bool same = planned_feed_shapes_.size() == feeds.size();
  for (size_t i = 0; same && i < feeds.size(); ++i) same = planned_feed_shapes_[i] == feeds[i].shape();
  if (!same) {
    for (size_t i = 0; i < feeds.size(); ++i) {
      const Value& in = graph_.value(inputs[i]);
      MT_CHECK(feeds[i].rank() == in.shape.rank() + 1, ShapeError, "input '", in.name,
               "' expects [N] + ", in.shape.str(), ", fed ", feeds[i].shape().str());
      for (int d = 0; d < in.shape.rank(); ++d)
        MT_CHECK(in.shape[d] < 0 || feeds[i].dim(d + 1) == in.shape[d], ShapeError, "input '",
                 in.name, "' expects [N] + ", in.shape.str(), ", fed ", feeds[i].shape().str());
      MT_CHECK(feeds[i].dtype() == in.dtype, ShapeError, "input '", in.name, "' expects ",
               dtype_name(in.dtype), ", fed ", dtype_name(feeds[i].dtype()));
      MT_CHECK(feeds[i].dim(0) == feeds[0].dim(0), ShapeError, "input '", in.name, "' has batch ",
               feeds[i].dim(0), ", the first input ", feeds[0].dim(0));
    }
    plan(feeds);
  }
  for (size_t i = 0; i < feeds.size(); ++i) backend_.copy(feeds[i], values_[inputs[i]]);
  ++step_;
  for (int n = 0; n < static_cast<int>(graph_.nodes().size()); ++n) {
    OpContext ctx = context(n, mode);
    const auto t0 = options_.profile ? Clock::now() : Clock::time_point{};
    graph_.node(n).op->forward(ctx);
    if (options_.profile) forward_seconds_[n] += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  last_mode_ = mode;
  forward_done_ = true;
}

void Executor::backward(ValueId loss) {
  MT_CHECK(forward_done_, ShapeError, "backward before forward");
  MT_CHECK(shapes_[loss].numel() == 1, ShapeError, "backward from '", graph_.value(loss).name,
           "' of shape ", shapes_[loss].str(), ": the loss must be a scalar");
  MT_CHECK(requires_grad_[loss], ShapeError, "backward from '", graph_.value(loss).name,
           "': it does not depend on any parameter");
  std::fill(grad_written_.begin(), grad_written_.end(), false);
  backend_.fill(grads_[loss], 1.0);
  grad_written_[loss] = true;

  const auto& nodes = graph_.nodes();
  for (int n = static_cast<int>(nodes.size()) - 1; n >= 0; --n) {
    const Node& node = nodes[n];
    bool live = false;
    for (ValueId out : node.outputs) live |= grad_written_[out];
    if (!live) continue;
    OpContext ctx = context(n, last_mode_);
    for (ValueId out : node.outputs) {
      if (!grad_written_[out]) backend_.fill(grads_[out], 0.0);  // an unused extra output
      ctx.doutputs.push_back(&grads_[out]);
    }
    // First writer of a gradient writes it; later writers write scratch, added below.
    std::vector<ValueId> accumulate;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const ValueId in = node.inputs[i];
      const bool wanted = requires_grad_[in] && node.op->differentiable_input(static_cast<int>(i));
      if (!wanted) {
        ctx.dinputs.push_back(nullptr);
      } else if (!grad_written_[in]) {
        ctx.dinputs.push_back(&grads_[in]);
      } else {
        ctx.dinputs.push_back(&scratch_[in]);
        accumulate.push_back(in);
      }
    }
    const auto t0 = options_.profile ? Clock::now() : Clock::time_point{};
    node.op->backward(ctx);
    for (size_t i = 0; i < node.inputs.size(); ++i)
      if (ctx.dinputs[i]) grad_written_[node.inputs[i]] = true;
    for (ValueId in : accumulate) backend_.add_inplace(grads_[in], scratch_[in]);
    if (options_.profile) backward_seconds_[n] += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  // A parameter no path reached this time gets a zero gradient, not last step's.
  for (ValueId p : graph_.params())
    if (!grad_written_[p]) backend_.fill(grads_[p], 0.0);
}

}  // namespace mt
