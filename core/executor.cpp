#include "core/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "core/graph_queries.h"
#include "core/ops/conv_bn_eval.h"

namespace mt {

Executor::Executor(Graph& graph, KernelBackend& backend, Options options)
    : graph_(graph), backend_(backend), options_(options) {
  // A value needs a gradient when a parameter (or, for gradchecks, an input) flows into it
  // through differentiable edges.
  const int nv = graph_.num_values();
  requires_grad_.assign(nv, false);
  for (ValueId p : graph_.params()) requires_grad_[p] = true;
  if (options_.input_grads)
    for (ValueId in : graph_.inputs())
      requires_grad_[in] = graph_.value(in).dtype != DType::i64;
  uses_.assign(nv, 0);
  for (const Node& node : graph_.nodes()) {
    bool any = false;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      any |= requires_grad_[node.inputs[i]] && node.op->differentiable_input(static_cast<int>(i));
      ++uses_[node.inputs[i]];
    }
    for (ValueId out : node.outputs) requires_grad_[out] = any;
  }
  // Backward runs the nodes in reverse, so a parameter's gradient is final once its first reader
  // in graph order has run.
  last_read_by_.assign(graph_.nodes().size(), {});
  read_by_a_node_.assign(nv, false);
  for (int n = 0; n < static_cast<int>(graph_.nodes().size()); ++n)
    for (ValueId in : graph_.node(n).inputs)
      if (graph_.value(in).kind == ValueKind::param && !read_by_a_node_[in]) {
        read_by_a_node_[in] = true;
        last_read_by_[n].push_back(in);
      }
  plan_relu_fusion();
  plan_batchnorm_folding();
  param_grads_.resize(nv);
  for (ValueId p : graph_.params())
    param_grads_[p] = Tensor::empty(graph_.value(p).shape, graph_.value(p).dtype, Layout::nchw, backend_.device());
  grad_written_.assign(nv, false);
  if (options_.profile) {
    forward_seconds_.assign(graph_.nodes().size(), 0);
    backward_seconds_.assign(graph_.nodes().size(), 0);
  }
}

namespace {
using Clock = std::chrono::steady_clock;
}

void Executor::plan_relu_fusion() {
  const int nn = static_cast<int>(graph_.nodes().size());
  fused_relu_.assign(nn, false);
  absorbed_into_.assign(nn, -1);
  alias_of_.assign(graph_.num_values(), -1);
  if (!options_.fuse_relu) return;
  const auto& outputs = graph_.outputs();
  for (int r = 0; r < nn; ++r) {
    const Node& relu = graph_.node(r);
    if (relu.op->kind() != OpKind::relu) continue;
    const ValueId x = relu.inputs[0];
    const int p = graph_.producer(x);
    // Only where nothing else reads the pre-activation value: it is never materialised.
    if (p < 0 || !graph_.node(p).op->fuses_relu() || graph_.node(p).outputs.size() != 1 || uses_[x] != 1 ||
        fused_relu_[p] || std::find(outputs.begin(), outputs.end(), x) != outputs.end())
      continue;
    fused_relu_[p] = true;
    absorbed_into_[r] = p;
    alias_of_[relu.outputs[0]] = x;
  }
}

std::string Executor::profile_report() const {
  if (!options_.profile) return "";
  std::map<std::string, std::pair<double, double>> by_kind;
  double total = 0;
  for (size_t n = 0; n < forward_seconds_.size(); ++n) {
    auto& k = by_kind[graph_.node(static_cast<int>(n)).op->kind_name()];
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

std::string Executor::profile_nodes_report(int top) const {
  if (!options_.profile) return "";
  std::vector<int> order;
  double total = 0;
  for (size_t n = 0; n < forward_seconds_.size(); ++n) {
    total += forward_seconds_[n] + backward_seconds_[n];
    if (forward_seconds_[n] + backward_seconds_[n] > 0) order.push_back(static_cast<int>(n));
  }
  auto seconds = [&](int n) { return forward_seconds_[n] + backward_seconds_[n]; };
  std::sort(order.begin(), order.end(), [&](int a, int b) { return seconds(a) > seconds(b); });
  if (static_cast<int>(order.size()) > top) order.resize(top);
  const std::vector<Shape>* shapes = current_ ? &current_->shapes : nullptr;
  const double per_fwd = 1e3 / std::max<int64_t>(profiled_forwards_, 1);
  const double per_bwd = 1e3 / std::max<int64_t>(profiled_backwards_, 1);
  std::string out = "node                            kind          fwd ms/call bwd ms/call  share  in -> out\n";
  char line[256];
  for (const int n : order) {
    const Node& node = graph_.node(n);
    std::snprintf(line, sizeof line, "%-31s %-13s %11.3f %11.3f %5.1f%%  ", node.name.c_str(),
                  node.op->kind_name().c_str(), forward_seconds_[n] * per_fwd, backward_seconds_[n] * per_bwd,
                  total > 0 ? 100 * seconds(n) / total : 0.0);
    out += line;
    if (shapes && !node.inputs.empty()) out += (*shapes)[node.inputs[0]].str();
    if (shapes && !node.outputs.empty()) out += " -> " + (*shapes)[node.outputs[0]].str();
    out += "\n";
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

void Executor::check_feeds(const std::vector<Tensor>& feeds) const {
  const auto& inputs = graph_.inputs();
  MT_CHECK(feeds.size() == inputs.size(), ShapeError, "forward: the graph has ", inputs.size(),
           " inputs, ", feeds.size(), " tensors fed");
  for (size_t i = 0; i < feeds.size(); ++i) {
    const Value& in = graph_.value(inputs[i]);
    bool fits = feeds[i].rank() == in.shape.rank() + 1 && feeds[i].dtype() == in.dtype;
    for (int d = 0; fits && d < in.shape.rank(); ++d) fits = in.shape[d] < 0 || feeds[i].dim(d + 1) == in.shape[d];
    MT_CHECK(fits, ShapeError, "input '", in.name, "' expects ", dtype_name(in.dtype), " [N] + ",
             in.shape.str(), ", fed ", dtype_name(feeds[i].dtype()), " ", feeds[i].shape().str());
    MT_CHECK(feeds[i].dim(0) == feeds[0].dim(0), ShapeError, "input '", in.name, "' has batch ",
             feeds[i].dim(0), ", the first input ", feeds[0].dim(0));
  }
}

std::unique_ptr<Executor::Plan> Executor::make_plan(const std::vector<Tensor>& feeds) {
  check_feeds(feeds);
  auto plan = std::make_unique<Plan>();
  const int nv = graph_.num_values();
  for (const Tensor& f : feeds) plan->feed_shapes.push_back(f.shape());
  plan->shapes = infer_value_shapes(graph_, feeds.empty() ? 0 : feeds[0].dim(0));
  for (const Node& node : graph_.nodes()) {
    // Activations take the float type of the node's inputs (f32, or f64 in gradient checks).
    DType dtype = DType::f32;
    for (ValueId in : node.inputs)
      if (graph_.value(in).dtype != DType::i64) {
        dtype = graph_.value(in).dtype;
        break;
      }
    for (ValueId out : node.outputs) graph_.value(out).dtype = dtype;
  }
  plan->values.resize(nv);
  for (ValueId v = 0; v < nv; ++v)
    if (is_activation_value(graph_, v) && alias_of_[v] < 0) plan->values[v] = allocate_like_value(v, plan->shapes[v]);
  for (ValueId v = 0; v < nv; ++v)
    if (alias_of_[v] >= 0) plan->values[v] = plan->values[alias_of_[v]];
  plan->node_state.resize(graph_.nodes().size());
  return plan;
}

// Activation gradients are planned on the first backward only: evaluation batches never need them.
void Executor::allocate_grads(Plan& plan) {
  const int nv = graph_.num_values();
  plan.grads.resize(nv);
  plan.scratch.resize(nv);
  for (ValueId v = 0; v < nv; ++v) {
    if (!requires_grad_[v]) continue;
    if (graph_.value(v).kind != ValueKind::param) plan.grads[v] = allocate_like_value(v, plan.shapes[v]);
    const Tensor& g = graph_.value(v).kind == ValueKind::param ? param_grads_[v] : plan.grads[v];
    if (uses_[v] > 1) plan.scratch[v] = Tensor::empty(plan.shapes[v], g.dtype(), g.layout(), backend_.device());
  }
  // A fused ReLU's input and output share one gradient, as they share one value.
  for (ValueId v = 0; v < nv; ++v)
    if (alias_of_[v] >= 0 && requires_grad_[v]) plan.grads[alias_of_[v]] = plan.grads[v];
}

void Executor::plan_batchnorm_folding() {
  const int nn = static_cast<int>(graph_.nodes().size());
  bn_after_conv_.assign(nn, -1);
  folded_in_eval_.assign(nn, false);
  if (!options_.fold_batchnorm) return;
  const auto& outputs = graph_.outputs();
  for (int c = 0; c < nn; ++c) {
    const Node& conv = graph_.node(c);
    if (conv.outputs.size() != 1) continue;
    const ValueId y = conv.outputs[0];
    const int bn = batchnorm_reading(graph_, y);
    if (bn < 0 || uses_[y] != 1 || std::find(outputs.begin(), outputs.end(), y) != outputs.end()) continue;
    if (!is_conv_bn_pair(*conv.op, *graph_.node(bn).op)) continue;
    bn_after_conv_[c] = bn;
    folded_in_eval_[bn] = true;
  }
}

Executor::Plan& Executor::plan_for(const std::vector<Tensor>& feeds) {
  auto matches = [&](const Plan& p) {
    if (p.feed_shapes.size() != feeds.size()) return false;
    for (size_t i = 0; i < feeds.size(); ++i)
      if (p.feed_shapes[i] != feeds[i].shape()) return false;
    return true;
  };
  if (current_ && matches(*current_)) return *current_;
  for (auto& p : plans_)
    if (matches(*p)) return *p;
  if (static_cast<int>(plans_.size()) >= std::max(1, options_.max_plans)) {
    auto oldest = std::min_element(plans_.begin(), plans_.end(),
                                   [](const auto& a, const auto& b) { return a->last_used < b->last_used; });
    plans_.erase(oldest);
  }
  plans_.push_back(make_plan(feeds));
  return *plans_.back();
}

const std::vector<Shape>& Executor::shapes() const {
  MT_CHECK(current_, ShapeError, "shapes(): run forward first");
  return current_->shapes;
}

const Tensor& Executor::value(ValueId v) const {
  const Value& val = graph_.value(v);
  if (val.kind == ValueKind::param || val.kind == ValueKind::buffer) return val.data;
  MT_CHECK(current_ && current_->values[v].defined(), ShapeError, "value '", val.name,
           "' has not been computed: run forward first");
  return current_->values[v];
}

Tensor& Executor::grad_slot(ValueId v) {
  return graph_.value(v).kind == ValueKind::param ? param_grads_[v] : current_->grads[v];
}

Tensor& Executor::param_grad(ValueId p) {
  MT_CHECK(graph_.value(p).kind == ValueKind::param, ShapeError, "value '", graph_.value(p).name,
           "' is not a parameter");
  return param_grads_[p];
}

const Tensor& Executor::grad(ValueId v) const {
  if (graph_.value(v).kind == ValueKind::param) return param_grads_[v];
  MT_CHECK(current_ && v < static_cast<ValueId>(current_->grads.size()) && current_->grads[v].defined(),
           ShapeError, "value '", graph_.value(v).name, "' has no gradient: it does not require one, ",
           "or backward has not run");
  return current_->grads[v];
}

OpContext Executor::context(int n, Mode mode) {
  const Node& node = graph_.node(n);
  const uint64_t node_seed = seed_ ^ (0x9E3779B97F4A7C15ull * forwards_since_seed_) ^ (0xD1B54A32D192ED03ull * (n + 1));
  OpContext ctx{backend_, mode, node_seed, fused_relu_[n], {}, {}, current_->node_state[n], {}, {}};
  for (ValueId in : node.inputs) {
    const Value& val = graph_.value(in);
    ctx.inputs.push_back((val.kind == ValueKind::param || val.kind == ValueKind::buffer)
                             ? &graph_.value(in).data : &current_->values[in]);
  }
  for (ValueId out : node.outputs) ctx.outputs.push_back(&current_->values[out]);
  return ctx;
}

void Executor::forward(const std::vector<Tensor>& feeds, Mode mode) {
  current_ = &plan_for(feeds);
  current_->last_used = ++plan_clock_;
  ++forwards_since_seed_;
  const auto& inputs = graph_.inputs();
  for (size_t i = 0; i < feeds.size(); ++i) backend_.copy(feeds[i], current_->values[inputs[i]]);
  const bool eval = mode == Mode::eval;
  for (int n = 0; n < static_cast<int>(graph_.nodes().size()); ++n) {
    if (absorbed_into_[n] >= 0) continue;       // its producer ran it
    if (eval && folded_in_eval_[n]) continue;  // its conv ran it
    OpContext ctx = context(n, mode);
    const auto t0 = options_.profile ? Clock::now() : Clock::time_point{};
    if (eval && bn_after_conv_[n] >= 0) {
      OpContext bn_ctx = context(bn_after_conv_[n], mode);
      conv_bn_forward_eval(*graph_.node(n).op, *graph_.node(bn_after_conv_[n]).op, ctx, bn_ctx);
    } else {
      graph_.node(n).op->forward(ctx);
    }
    if (options_.profile) forward_seconds_[n] += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  last_mode_ = mode;
  if (options_.profile) ++profiled_forwards_;
  forward_done_ = true;
}

void Executor::backward(ValueId loss) {
  MT_CHECK(forward_done_, ShapeError, "backward before forward");
  MT_CHECK(current_->shapes[loss].numel() == 1, ShapeError, "backward from '", graph_.value(loss).name,
           "' of shape ", current_->shapes[loss].str(), ": the loss must be a scalar");
  if (options_.profile) ++profiled_backwards_;
  MT_CHECK(requires_grad_[loss], ShapeError, "backward from '", graph_.value(loss).name,
           "': it does not depend on any parameter");
  Plan& plan = *current_;
  if (plan.grads.empty()) allocate_grads(plan);
  std::fill(grad_written_.begin(), grad_written_.end(), false);
  backend_.fill(grad_slot(loss), 1.0);
  grad_written_[loss] = true;
  for (int n = static_cast<int>(graph_.nodes().size()) - 1; n >= 0; --n) {
    backward_node(n, plan);
    if (grad_ready_hook_) report_final_grads(n);
  }
  finish_param_grads();
}

void Executor::backward_node(int n, Plan& plan) {
  const Node& node = graph_.node(n);
  if (absorbed_into_[n] >= 0) {  // the producer's backward handles the ReLU too
    grad_written_[node.inputs[0]] = grad_written_[node.outputs[0]];
    return;
  }
  bool live = false;
  for (ValueId out : node.outputs) live |= grad_written_[out];
  if (!live) return;
  OpContext ctx = context(n, last_mode_);
  for (ValueId out : node.outputs) {
    if (!grad_written_[out]) backend_.fill(grad_slot(out), 0.0);  // an unused extra output
    ctx.doutputs.push_back(&grad_slot(out));
  }
  // The first writer of a gradient writes it; later writers write scratch, added below.
  std::vector<ValueId> accumulate;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const ValueId in = node.inputs[i];
    const bool wanted = requires_grad_[in] && node.op->differentiable_input(static_cast<int>(i));
    if (!wanted) {
      ctx.dinputs.push_back(nullptr);
    } else if (!grad_written_[in]) {
      ctx.dinputs.push_back(&grad_slot(in));
    } else {
      ctx.dinputs.push_back(&plan.scratch[in]);
      accumulate.push_back(in);
    }
  }
  const auto t0 = options_.profile ? Clock::now() : Clock::time_point{};
  node.op->backward(ctx);
  for (size_t i = 0; i < node.inputs.size(); ++i)
    if (ctx.dinputs[i]) grad_written_[node.inputs[i]] = true;
  for (ValueId in : accumulate) backend_.add_inplace(grad_slot(in), plan.scratch[in]);
  if (options_.profile) backward_seconds_[n] += std::chrono::duration<double>(Clock::now() - t0).count();
}

// After node n's backward: the gradients it finished. One that no path wrote is left to
// finish_param_grads, which zeroes it.
void Executor::report_final_grads(int n) {
  for (ValueId p : last_read_by_[n])
    if (grad_written_[p]) grad_ready_hook_(p);
}

void Executor::finish_param_grads() {
  // A parameter no path reached this time gets a zero gradient, not last step's.
  for (ValueId p : graph_.params()) {
    const bool reached = grad_written_[p];
    if (!reached) backend_.fill(param_grads_[p], 0.0);
    // Written without a reader: only a parameter that is itself the loss.
    if (grad_ready_hook_ && (!reached || !read_by_a_node_[p])) grad_ready_hook_(p);
  }
}

}  // namespace mt
