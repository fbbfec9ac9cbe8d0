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
  plan_residual_folding();
  plan_backward_reads();
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

Layout Executor::value_layout(ValueId v, const Shape& shape) const {
  const Value& val = graph_.value(v);
  bool activation_layout = shape.rank() == 4;
  if (val.producer >= 0) activation_layout &= graph_.node(val.producer).op->activation_output();
  if (val.kind == ValueKind::param || val.kind == ValueKind::buffer) activation_layout = false;
  return activation_layout ? backend_.activation_layout() : Layout::nchw;
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

// Activations take the float type of their node's inputs (f32, or f64 in gradient checks).
void Executor::assign_dtypes() {
  for (const Node& node : graph_.nodes()) {
    DType dtype = DType::f32;
    for (ValueId in : node.inputs)
      if (graph_.value(in).dtype != DType::i64) {
        dtype = graph_.value(in).dtype;
        break;
      }
    for (ValueId out : node.outputs) graph_.value(out).dtype = dtype;
  }
}

// Which values backward reads, until when, and which it recomputes rather than keeps. Step times
// as in step_buffers; the answers do not depend on the input shape.
void Executor::plan_backward_reads() {
  const int nn = static_cast<int>(graph_.nodes().size()), nv = graph_.num_values();
  auto backward_time = [&](int n) { return 2 * nn - 1 - n; };
  auto root = [&](ValueId v) { return buffer_root(v, true); };
  read_backward_.assign(nv, -1);
  std::vector<int> first_read_backward(nv, step_end());
  std::vector<bool> runs(nn, false);  // backward skips a node none of whose outputs needs a gradient
  for (int n = 0; n < nn; ++n) {
    if (absorbed_into_[n] >= 0) continue;  // its producer's backward runs it
    const Node& node = graph_.node(n);
    for (ValueId out : node.outputs) runs[n] = runs[n] || requires_grad_[out];
    if (!runs[n]) continue;
    // Backward runs in reverse: the latest time is the backward of the earliest reader.
    auto keep = [&](ValueId v) {
      read_backward_[root(v)] = std::max(read_backward_[root(v)], backward_time(n));
      first_read_backward[root(v)] = std::min(first_read_backward[root(v)], backward_time(n));
    };
    for (size_t i = 0; i < node.inputs.size(); ++i)
      if (node.op->backward_reads_input(i)) keep(node.inputs[i]);
    for (size_t i = 0; i < node.outputs.size(); ++i)
      if (node.op->backward_reads_output(i, fused_relu_[n])) keep(node.outputs[i]);
  }
  recompute_at_.assign(nv, -1);
  recompute_before_.assign(nn, {});
  if (!options_.recompute || !options_.reuse_memory) return;
  std::vector<bool> pinned(nv, false);
  for (ValueId v : graph_.inputs()) pinned[root(v)] = true;
  for (ValueId v : graph_.outputs()) pinned[root(v)] = true;
  for (int p = 0; p < nn; ++p) {
    const Node& node = graph_.node(p);
    if (!runs[p] || node.outputs.size() != 1 || !node.op->recomputable(backend_)) continue;
    const ValueId v = root(node.outputs[0]);
    if (pinned[v] || read_backward_[v] < 0) continue;
    // Its own backward keeps the inputs it recomputes from until after every reader's backward;
    // an input that is itself recomputed would not be there yet.
    bool inputs_held = true;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const ValueKind kind = graph_.value(node.inputs[i]).kind;
      if (kind == ValueKind::param || kind == ValueKind::buffer) continue;
      inputs_held = inputs_held && node.op->backward_reads_input(i) && recompute_at_[root(node.inputs[i])] < 0;
    }
    if (!inputs_held) continue;
    recompute_at_[v] = first_read_backward[v];
    recompute_before_[backward_time(first_read_backward[v])].push_back(p);  // the time's node
  }
}

ValueId Executor::buffer_root(ValueId v, bool training) const {
  for (;;) {
    if (alias_of_[v] >= 0)
      v = alias_of_[v];
    else if (!training && eval_alias_[v] >= 0)
      v = eval_alias_[v];
    else
      return v;
  }
}

// A residual add one of whose inputs is written by a folded conv c (its batch norm's output, read
// by nothing else) can run inside c, over its other input r, where r is ready before c runs and
// nothing but the add reads it from c on. Of two such inputs (a downsampling shortcut's conv
// after the main branch's), the later conv takes the add.
void Executor::plan_residual_folding() {
  const int nn = static_cast<int>(graph_.nodes().size()), nv = graph_.num_values();
  residual_add_of_.assign(nn, -1);
  add_in_conv_.assign(nn, false);
  eval_alias_.assign(nv, -1);
  if (!options_.fold_batchnorm || !options_.fold_residual || !options_.reuse_memory) return;
  auto root = [&](ValueId v) { return buffer_root(v, false); };
  std::vector<bool> pinned(nv, false);
  for (ValueId v : graph_.inputs()) pinned[root(v)] = true;
  for (ValueId v : graph_.outputs()) pinned[root(v)] = true;
  std::vector<int> conv_of_bn(nn, -1);
  for (int c = 0; c < nn; ++c)
    if (bn_after_conv_[c] >= 0) conv_of_bn[bn_after_conv_[c]] = c;
  for (int a = 0; a < nn; ++a) {
    const Node& add = graph_.node(a);
    if (add.op->kind() != OpKind::add || add.inputs.size() != 2 || add.inputs[0] == add.inputs[1]) continue;
    if (pinned[root(add.outputs[0])]) continue;
    int best_conv = -1;
    ValueId best_residual = -1;
    for (int side = 0; side < 2; ++side) {
      const ValueId branch = add.inputs[side], residual = add.inputs[1 - side];
      const int bn = graph_.producer(branch);
      if (bn < 0 || !folded_in_eval_[bn] || fused_relu_[bn] || uses_[branch] != 1) continue;
      const int c = conv_of_bn[bn];
      const ValueId r = root(residual);
      const ValueKind kind = graph_.value(residual).kind;
      if (kind == ValueKind::param || kind == ValueKind::buffer || pinned[r] || c <= best_conv) continue;
      // r's buffer must hold the residual when c runs and be read by nothing but the add after.
      const int rp = graph_.producer(residual);
      bool fits = rp >= 0 && rp < c && graph_.node(rp).op->activation_output();
      for (int n = 0; n < nn && fits; ++n)
        for (ValueId in : graph_.node(n).inputs)
          if (root(in) == r && n >= c && n != a) fits = false;
      if (!fits) continue;
      best_conv = c;
      best_residual = residual;
    }
    if (best_conv < 0) continue;
    residual_add_of_[best_conv] = a;
    add_in_conv_[a] = true;
    eval_alias_[add.outputs[0]] = best_residual;
  }
}

// Step times: node n runs forward at n and backward at 2N - 1 - n; 2N is the end of the step.
// A fused ReLU's output shares its input's buffers (alias_of_), so the two are planned as one.
Executor::StepBuffers Executor::step_buffers(const std::vector<Shape>& shapes, bool training) const {
  const int nn = static_cast<int>(graph_.nodes().size()), nv = graph_.num_values(), end = step_end();
  auto backward_time = [&](int n) { return 2 * nn - 1 - n; };
  auto root = [&](ValueId v) { return buffer_root(v, training); };
  // Per root: the first producer, the last reader, and whether the step's caller reads it; per
  // value: its own first and last reader (a second gradient buffer lives between them).
  std::vector<int> produced(nv, nn), last_read(nv, -1), own_first_read(nv, nn), own_last_read(nv, -1);
  std::vector<bool> pinned(nv, false), input(nv, false), aliased(nv, false);
  for (ValueId v : graph_.inputs()) pinned[root(v)] = input[root(v)] = true, produced[root(v)] = 0;
  for (ValueId v : graph_.outputs()) pinned[root(v)] = true;
  for (ValueId v = 0; v < nv; ++v)
    if (alias_of_[v] >= 0) aliased[alias_of_[v]] = true;
  for (int n = 0; n < nn; ++n) {
    for (ValueId out : graph_.node(n).outputs) produced[root(out)] = std::min(produced[root(out)], n);
    // In evaluation a convolution writes the output of the batch norm folded into it.
    if (bn_after_conv_[n] >= 0)
      for (ValueId out : graph_.node(bn_after_conv_[n]).outputs) produced[root(out)] = std::min(produced[root(out)], n);
    for (ValueId in : graph_.node(n).inputs) {
      last_read[root(in)] = std::max(last_read[root(in)], n);
      own_first_read[in] = std::min(own_first_read[in], n);
      own_last_read[in] = std::max(own_last_read[in], n);
    }
  }
  StepBuffers b;
  auto add = [&](BufferRole role, ValueId v, int first, int last) {
    const Shape& shape = shapes[v];
    if (!options_.reuse_memory) first = 0, last = end;
    b.lives.push_back({shape.numel() * static_cast<int64_t>(dtype_size(graph_.value(v).dtype)), first, last});
    b.owners.emplace_back(role, v);
  };
  for (ValueId v = 0; v < nv; ++v) {
    if (!is_activation_value(graph_, v) || root(v) != v) continue;
    const int p = std::min(produced[v], nn - 1);
    const bool kept = training && recompute_at_[v] < 0;
    const int last = pinned[v] ? end : std::max({last_read[v], p, kept ? read_backward_[v] : -1});
    add(BufferRole::value, v, p, last);
    if (training && recompute_at_[v] >= 0) add(BufferRole::recomputed, v, recompute_at_[v], read_backward_[v]);
  }
  if (!training) return b;
  for (ValueId v = 0; v < nv; ++v) {
    if (!requires_grad_[v] || graph_.value(v).kind == ValueKind::param) continue;
    const ValueId r = root(v);
    const int p = std::min(produced[r], nn - 1);
    // Written by its last reader's backward (or zeroed by its producer's), passed on by its
    // producer's; an input's gradient is read after the step.
    if (aliased[v]) continue;  // a fused ReLU's input: its output's gradient buffer serves both
    const int first = backward_time(last_read[r] >= 0 ? last_read[r] : p);
    add(BufferRole::grad, v, first, input[r] ? end : backward_time(p));
  }
  for (ValueId v = 0; v < nv; ++v)
    if (requires_grad_[v] && uses_[v] > 1)  // a shared parameter too
      add(BufferRole::scratch, v, backward_time(own_last_read[v]), backward_time(own_first_read[v]));
  return b;
}

std::unique_ptr<Executor::Plan> Executor::make_plan(const std::vector<Tensor>& feeds, bool training) {
  check_feeds(feeds);
  auto plan = std::make_unique<Plan>();
  const int nv = graph_.num_values(), end = step_end();
  for (const Tensor& f : feeds) plan->feed_shapes.push_back(f.shape());
  plan->shapes = infer_value_shapes(graph_, feeds.empty() ? 0 : feeds[0].dim(0));
  plan->training = training;
  assign_dtypes();
  const StepBuffers buffers = step_buffers(plan->shapes, training);
  const PackedBuffers packed = pack_buffers(buffers.lives);
  plan->arena = Tensor::empty({std::max<int64_t>(1, (packed.arena_bytes + 7) / 8)}, DType::f64, Layout::nchw,
                              backend_.device());
  auto holder = std::make_shared<Tensor>(plan->arena);
  char* base = static_cast<char*>(plan->arena.raw());
  plan->values.resize(nv);
  plan->grads.resize(nv);
  plan->scratch.resize(nv);
  plan->recomputed.resize(nv);
  plan->value_end.assign(nv, end);
  plan->grad_end.assign(nv, end);
  for (size_t i = 0; i < buffers.owners.size(); ++i) {
    const auto [role, v] = buffers.owners[i];
    // Every role in the value's layout: a second gradient must lie as the first does, or each
    // kernel writing it goes through a temporary and the accumulation crosses layouts.
    Tensor view = Tensor::wrap(base + packed.offsets[i], plan->shapes[v], graph_.value(v).dtype,
                               value_layout(v, plan->shapes[v]), holder, backend_.device());
    if (role == BufferRole::value) plan->values[v] = view, plan->value_end[v] = buffers.lives[i].last;
    if (role == BufferRole::grad) plan->grads[v] = view, plan->grad_end[v] = buffers.lives[i].last;
    if (role == BufferRole::scratch) plan->scratch[v] = view;
    if (role == BufferRole::recomputed) plan->recomputed[v] = view;
  }
  // A fused ReLU's output is its input's buffer; the two share one gradient too. In a
  // forward-only plan a folded residual add's output is its other input's buffer.
  for (ValueId v = 0; v < nv; ++v) {
    const ValueId r = buffer_root(v, training);
    if (r != v) {
      plan->values[v] = plan->values[r];
      plan->value_end[v] = plan->value_end[r];
    }
    if (alias_of_[v] < 0) continue;
    plan->recomputed[v] = plan->recomputed[alias_of_[v]];
    if (training && requires_grad_[v]) {
      plan->grads[alias_of_[v]] = plan->grads[v];
      plan->grad_end[alias_of_[v]] = plan->grad_end[v];
    }
  }
  // In a forward-only plan a buffer may pass from a value to the add that folds it in (eval_alias_):
  // a value is then held only until its own last reader, not its buffer's.
  if (!training) {
    std::vector<int> own_last(nv, -1);
    for (int n = 0; n < static_cast<int>(graph_.nodes().size()); ++n)
      for (ValueId in : graph_.node(n).inputs) own_last[in] = n;
    std::vector<bool> passed_on(nv, false);  // per root: a buffer some folded add takes over
    for (ValueId v = 0; v < nv; ++v)
      if (eval_alias_[v] >= 0) passed_on[buffer_root(v, false)] = true;
    for (ValueId v = 0; v < nv; ++v)
      if (passed_on[buffer_root(v, false)])
        plan->value_end[v] = std::min(plan->value_end[v], std::max(own_last[v], graph_.producer(v)));
  }
  plan->node_state.resize(graph_.nodes().size());
  return plan;
}

Executor::MemoryReport Executor::plan_memory(int64_t batch, bool training) const {
  const StepBuffers buffers = step_buffers(infer_value_shapes(graph_, batch), training);
  MemoryReport r;
  r.packed = pack_buffers(buffers.lives);
  r.planned_bytes = r.packed.arena_bytes;
  r.unpacked_bytes = r.packed.unpacked_bytes;
  for (size_t i = 0; i < buffers.lives.size(); ++i)
    if (buffers.owners[i].first == BufferRole::value) {
      r.value_bytes += buffers.lives[i].bytes;
      if (training && buffers.lives[i].last >= static_cast<int>(graph_.nodes().size()))
        r.kept_bytes += buffers.lives[i].bytes;
    }
  r.lives = buffers.lives;
  return r;
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

Executor::Plan& Executor::plan_for(const std::vector<Tensor>& feeds, bool training) {
  auto matches = [&](const Plan& p) {
    if (p.feed_shapes.size() != feeds.size()) return false;
    for (size_t i = 0; i < feeds.size(); ++i)
      if (p.feed_shapes[i] != feeds[i].shape()) return false;
    return true;
  };
  // A training plan serves evaluation too; a forward-only plan of the same shape is replaced.
  if (current_ && matches(*current_) && (current_->training || !training)) return *current_;
  for (auto it = plans_.begin(); it != plans_.end(); ++it) {
    if (!matches(**it)) continue;
    if ((*it)->training || !training) return **it;
    if (current_ == it->get()) current_ = nullptr;
    plans_.erase(it);
    break;
  }
  if (static_cast<int>(plans_.size()) >= std::max(1, options_.max_plans)) {
    auto oldest = std::min_element(plans_.begin(), plans_.end(),
                                   [](const auto& a, const auto& b) { return a->last_used < b->last_used; });
    if (current_ == oldest->get()) current_ = nullptr;
    plans_.erase(oldest);
  }
  plans_.push_back(make_plan(feeds, training));
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
  MT_CHECK(current_->value_end[v] >= current_->clock, ShapeError, "value '", val.name,
           "' is no longer held: its buffer was reused after its last use in the step (read it from a graph ",
           "output, or run with Executor::Options::reuse_memory = false)");
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
  MT_CHECK(current_->grad_end[v] >= current_->clock, ShapeError, "the gradient of '", graph_.value(v).name,
           "' is no longer held: its buffer was reused once it was passed on (run with ",
           "Executor::Options::reuse_memory = false to keep it)");
  return current_->grads[v];
}

OpContext Executor::context(int n, Mode mode, bool backward) {
  const Node& node = graph_.node(n);
  OpContext ctx{backend_, mode, node_seed(n), fused_relu_[n], {}, {}, current_->node_state[n], {}, {}};
  auto held = [&](ValueId v) {
    Tensor& again = current_->recomputed[v];
    return backward && again.defined() ? &again : &current_->values[v];
  };
  for (ValueId in : node.inputs) {
    const Value& val = graph_.value(in);
    ctx.inputs.push_back((val.kind == ValueKind::param || val.kind == ValueKind::buffer) ? &graph_.value(in).data
                                                                                        : held(in));
  }
  for (ValueId out : node.outputs) ctx.outputs.push_back(held(out));
  return ctx;
}

void Executor::forward(const std::vector<Tensor>& feeds, Mode mode) {
  current_ = &plan_for(feeds, mode == Mode::train);
  current_->last_used = ++plan_clock_;
  current_->clock = static_cast<int>(graph_.nodes().size()) - 1;
  ++forwards_since_seed_;
  const auto& inputs = graph_.inputs();
  for (size_t i = 0; i < feeds.size(); ++i) backend_.copy(feeds[i], current_->values[inputs[i]]);
  const bool eval = mode == Mode::eval;
  const bool fold_adds = eval && !current_->training;  // the plan has the adds' buffers in place
  for (int n = 0; n < static_cast<int>(graph_.nodes().size()); ++n) {
    if (absorbed_into_[n] >= 0) continue;       // its producer ran it
    if (eval && folded_in_eval_[n]) continue;  // its conv ran it
    if (fold_adds && add_in_conv_[n]) continue;  // likewise
    OpContext ctx = context(n, mode);
    const auto t0 = options_.profile ? Clock::now() : Clock::time_point{};
    if (eval && bn_after_conv_[n] >= 0) {
      OpContext bn_ctx = context(bn_after_conv_[n], mode);
      const Op& conv = *graph_.node(n).op;
      const Op& bn = *graph_.node(bn_after_conv_[n]).op;
      if (const int add = residual_add_of_[n]; fold_adds && add >= 0)
        conv_bn_add_forward_eval(conv, bn, ctx, bn_ctx, fused_relu_[add], current_->values[graph_.node(add).outputs[0]]);
      else
        conv_bn_forward_eval(conv, bn, ctx, bn_ctx);
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
  MT_CHECK(plan.training, ShapeError, "backward after an eval-mode forward: run forward in train mode ",
           "(its buffers are planned for backward)");
  std::fill(grad_written_.begin(), grad_written_.end(), false);
  backend_.fill(grad_slot(loss), 1.0);
  grad_written_[loss] = true;
  for (int n = static_cast<int>(graph_.nodes().size()) - 1; n >= 0; --n) {
    for (int p : recompute_before_[n]) recompute_node(p);
    backward_node(n, plan);
    if (grad_ready_hook_) report_final_grads(n);
  }
  finish_param_grads();
  plan.clock = step_end() - 1;
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
  OpContext ctx = context(n, last_mode_, true);
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

// Node n's outputs again, into their recomputed buffers (plan_backward_reads chose them).
void Executor::recompute_node(int n) {
  OpContext ctx = context(n, last_mode_, true);
  const auto t0 = options_.profile ? Clock::now() : Clock::time_point{};
  graph_.node(n).op->recompute(ctx);
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
