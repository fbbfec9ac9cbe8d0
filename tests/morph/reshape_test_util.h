#pragma once
// Helpers of the reshaper tests: models whose batch norms are non-trivial, channels made exactly
// dead, and eval-mode logits on a real backend.
#include <string>
#include <vector>

#include "core/executor.h"
#include "kernels/backends.h"
#include "layers/zoo/model.h"
#include "morph/channel_groups.h"

namespace mt::test {

inline void set_at(const Tensor& t, int64_t i, double v) {
  if (t.dtype() == DType::f64) t.data<double>()[i] = v;
  else t.data<float>()[i] = static_cast<float>(v);
}

inline double get_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::f64 ? t.data<double>()[i] : static_cast<double>(t.data<float>()[i]);
}

inline const Tensor& param_of(const Graph& g, const std::string& name) { return g.value(g.at(name)).data; }

// Random scales, shifts and running statistics in every batch norm, so that eval mode computes
// something a wrong slice would change.
inline void randomize_batchnorms(Graph& g, Rng& rng) {
  for (const Node& n : g.nodes()) {
    if (n.op->kind() != OpKind::batchnorm2d) continue;
    const double lo[] = {0.5, -0.3, -0.3, 0.5}, hi[] = {1.5, 0.3, 0.3, 2.0};
    for (int k = 0; k < 4; ++k) {
      const Tensor& t = g.value(n.inputs[k + 1]).data;
      for (int64_t i = 0; i < t.numel(); ++i) set_at(t, i, rng.uniform(lo[k], hi[k]));
    }
  }
}

// Zeroes the scale and shift of the group's channel in every batch norm of the group: after
// those batch norms the channel is exactly 0 (and stays 0 through ReLUs, adds of other zeros,
// depthwise convs, pooling), so removing it changes nothing.
inline void kill_group(const Graph& g, const morph::ChannelGroups& groups, int group) {
  for (const morph::ChannelRef& r : groups.group(group).batchnorms) {
    const Node& n = g.node(r.node);
    set_at(g.value(n.inputs[1]).data, r.channel, 0);
    set_at(g.value(n.inputs[2]).data, r.channel, 0);
  }
}

inline Tensor random_images(const layers::Model& m, int64_t batch, Rng& rng) {
  std::vector<int64_t> dims{batch};
  for (int64_t d : m.graph.value(m.images).shape.dims()) dims.push_back(d);
  Tensor x = Tensor::empty(Shape(dims), m.graph.value(m.images).dtype);
  for (int64_t i = 0; i < x.numel(); ++i) set_at(x, i, rng.normal());
  return x;
}

inline Tensor eval_logits(layers::Model& m, const Tensor& images, const std::string& backend = "cpu") {
  auto b = make_backend(backend);
  Executor ex(m.graph, *b);
  Tensor labels = Tensor::zeros({images.dim(0)}, DType::i64);
  ex.forward({images, labels}, Mode::eval);
  return ex.value(m.logits).clone();
}

// A small runnable net with every construct the reshaper handles besides channel_pad (test
// _models.h's TinyNet, with real gates):
//   a: conv 3->6, bn, gate, relu;  b: conv a->6 (3x3), bn, gate;  s: conv a->6 (1x1), bn, gate;
//   r = relu(b + s);  c: conv a->5 (1x1), bn, gate, relu;  d: conv concat(r, c) -> 8, stride 2,
//   bn, gate, relu;  e: depthwise conv d, bn, relu;  global average pool, flatten, fc -> 4.
inline layers::Model make_concat_model(uint64_t seed = 5) {
  layers::Model m;
  m.name = "concat_net";
  layers::ModelBuilder b(m.graph, seed);
  b.set_gating({.enabled = true, .temperature = 0.001, .init_logit = 2.5});
  layers::ConvOptions pad1{.padding = 1}, same{}, down{.stride = 2, .padding = 1};
  m.images = b.input("images", {3, 8, 8});
  m.labels = b.labels();
  auto cbr = [&](const std::string& n, ValueId x, int64_t out, int k, layers::ConvOptions o) {
    return b.batchnorm2d(n + "_bn", b.conv2d(n, x, out, k, o));
  };
  const ValueId a = b.relu("a_relu", cbr("a", m.images, 6, 3, pad1));
  const ValueId r = b.relu("r_relu", b.add("r", cbr("b", a, 6, 3, pad1), cbr("s", a, 6, 1, same)));
  const ValueId c = b.relu("c_relu", cbr("c", a, 5, 1, same));
  const ValueId d = b.relu("d_relu", cbr("d", b.concat("cat", {r, c}), 8, 3, down));
  layers::ConvOptions dw{.padding = 1, .groups = 8};
  const ValueId e = b.relu("e_relu", cbr("e", d, 8, 3, dw));
  m.logits = b.linear("fc", b.flatten("flatten", b.global_avgpool2d("gap", e)), 4);
  m.loss = b.cross_entropy("loss", m.logits, m.labels);
  m.graph.mark_output(m.loss);
  return m;
}

}  // namespace mt::test
