// FiGS gating in the zoo (ModelOptions.gating): one gate per conv, after its batch norm, and one
// per hidden linear layer; the parameters it adds; fully open gates leave the network's function
// unchanged; explicit gates in YAML graphs.
#include <catch2/catch.hpp>

#include "core/executor.h"
#include "core/ops/gate.h"
#include "kernels/backends.h"
#include "layers/yaml_graph.h"
#include "layers/zoo/model.h"
#include "morph/network_regularizer.h"

using namespace mt;
using namespace mt::layers;
using Catch::Contains;

namespace {

int count_kind(const Graph& g, OpKind kind) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op->kind() == kind;
  return n;
}

// Every conv (and hidden linear) must have exactly one gate, `<name>.gate`, reading its batch
// norm's output (or its own): returns the sum of the gated widths.
int64_t check_one_gate_per_layer(const Graph& g) {
  int64_t widths = 0;
  for (const Node& node : g.nodes()) {
    if (node.op->kind() != OpKind::gate) continue;
    const std::string layer = node.name.substr(0, node.name.size() - 5);  // less ".gate"
    INFO(node.name);
    REQUIRE(node.name.size() > 5);
    REQUIRE(node.name.substr(node.name.size() - 5) == ".gate");
    const int layer_node = g.find_node(layer);
    REQUIRE(layer_node >= 0);
    int source = g.producer(node.inputs[0]);
    if (g.node(source).op->kind() == OpKind::batchnorm2d) source = g.producer(g.node(source).inputs[0]);
    CHECK(source == layer_node);
    const Value& logits = g.value(node.inputs[1]);
    CHECK(logits.name == node.name + ".logits");
    CHECK(logits.kind == ValueKind::param);
    widths += logits.shape[0];
  }
  return widths;
}

int64_t conv_widths(const Graph& g) {
  int64_t sum = 0;
  for (const Node& node : g.nodes())
    if (node.op->kind() == OpKind::conv2d) sum += g.value(node.inputs[1]).shape[0];
  return sum;
}

ModelOptions gated(ModelOptions o, double init_logit = 2.5) {
  o.gating = true;
  o.gate_init_logit = init_logit;
  return o;
}

}  // namespace

TEST_CASE("gating adds one gate per conv after its batch norm", "[zoo][gate]") {
  SECTION("resnet20, shortcut A") {
    const ModelOptions o;
    const Model plain = build_model("resnet20", o);
    const Model m = build_model("resnet20", gated(o));
    CHECK(count_kind(plain.graph, OpKind::gate) == 0);
    CHECK(count_kind(m.graph, OpKind::conv2d) == 19);
    CHECK(count_kind(m.graph, OpKind::gate) == 19);
    // 16 + 6 x 16 + 6 x 32 + 6 x 64 gate logits.
    CHECK(check_one_gate_per_layer(m.graph) == 688);
    CHECK(m.graph.num_parameters() == 269722 + 688);
    // Before the activation and before the residual add.
    const Graph& g = m.graph;
    CHECK(g.node(g.consumers(g.at("layer1.0.conv1.gate")).at(0)).name == "layer1.0.relu1");
    CHECK(g.node(g.consumers(g.at("layer1.0.conv2.gate")).at(0)).name == "layer1.0.add");
    CHECK(g.consumers(g.at("layer1.0.bn1")).size() == 1);
    const Tensor& logits = g.value(g.at("layer3.2.conv2.gate.logits")).data;
    CHECK(logits.shape() == Shape{64});
    CHECK(logits.at({63}) == 2.5f);
    const auto& op = dynamic_cast<const GateOp&>(*g.node(g.find_node("conv1.gate")).op);
    CHECK(op.temperature() == 0.001);
    CHECK(g.find("fc.gate") < 0);
  }
  SECTION("mobilenet_v2") {
    const ModelOptions o;
    const Model plain = build_model("mobilenet_v2", o);
    const Model m = build_model("mobilenet_v2", gated(o));
    CHECK(count_kind(m.graph, OpKind::gate) == count_kind(m.graph, OpKind::conv2d));
    CHECK(count_kind(m.graph, OpKind::conv2d) == 52);
    const int64_t widths = check_one_gate_per_layer(m.graph);
    CHECK(widths == conv_widths(m.graph));
    CHECK(m.graph.num_parameters() == plain.graph.num_parameters() + widths);
    CHECK(m.graph.find("features.17.conv.2.gate") >= 0);  // the last projection
    CHECK(m.graph.find("classifier.1.gate") < 0);
  }
  SECTION("resnet18 with its downsample convs, mobilenet_v1, vgg_small") {
    for (const char* name : {"resnet18", "mobilenet_v1", "vgg_small"}) {
      INFO(name);
      const Model m = build_model(name, gated({}));
      const int hidden_linears = count_kind(m.graph, OpKind::linear) - 1;
      CHECK(count_kind(m.graph, OpKind::gate) == count_kind(m.graph, OpKind::conv2d) + hidden_linears);
      check_one_gate_per_layer(m.graph);
    }
    const Model vgg = build_model("vgg_small", gated({}));
    CHECK(vgg.graph.find("classifier.0.gate") >= 0);  // the hidden linear, before its ReLU
    CHECK(vgg.graph.node(vgg.graph.consumers(vgg.graph.at("classifier.0.gate")).at(0)).name ==
          "classifier.1");
    CHECK(vgg.graph.find("classifier.2.gate") < 0);  // the logits
    CHECK(build_model("resnet18", gated({})).graph.find("layer2.0.downsample.0.gate") >= 0);
  }
  SECTION("a bad temperature is a config error") {
    ModelOptions o = gated({});
    o.gate_temperature = 0;
    CHECK_THROWS_AS(build_model("resnet20", o), ConfigError);
  }
}

namespace {

// Copies every tensor of `from`'s state_dict into the same name in `to`.
void copy_state(const Graph& from, Graph& to) {
  for (const auto& [name, t] : from.state_dict()) to.value(to.at(name)).data.copy_from(t);
}

// Non-trivial batch-norm statistics and affine parameters.
void randomize_batchnorm(Graph& g, Rng& rng) {
  for (const Node& node : g.nodes()) {
    if (node.op->kind() != OpKind::batchnorm2d) continue;
    for (size_t i = 1; i <= 4; ++i) {
      Tensor& t = g.value(node.inputs[i]).data;
      const bool var = i == 4, weight = i == 1;
      for (int64_t k = 0; k < t.numel(); ++k)
        t.data<float>()[k] = static_cast<float>(var ? rng.uniform(0.5, 1.5)
                                                    : rng.uniform(-0.5, 0.5) + (weight ? 1 : 0));
    }
  }
}

std::vector<Tensor> batch(const ModelOptions& o, int64_t n, Rng& rng) {
  Tensor images = Tensor::empty({n, o.in_channels, o.image_size, o.image_size});
  Tensor labels = Tensor::empty({n}, DType::i64);
  for (int64_t i = 0; i < images.numel(); ++i) images.data<float>()[i] = static_cast<float>(rng.normal());
  for (int64_t i = 0; i < n; ++i) labels.data<int64_t>()[i] = i % o.num_classes;
  return {images, labels};
}

}  // namespace

TEST_CASE("fully open gates leave the network's function unchanged", "[zoo][gate][cpu]") {
  const std::string name = GENERATE(as<std::string>{}, "resnet20", "mobilenet_v2");
  ModelOptions o;
  o.image_size = name == "resnet20" ? 12 : 32;
  o.seed = 7;
  Model plain = build_model(name, o);
  // Logit 40: sigmoid(40) and every training sample (|noise| < 37 at T = 0.001) round to 1.
  Model open = build_model(name, gated(o, 40));
  // The same seed draws the same weights: the gates take no random numbers.
  for (const auto& [n, t] : plain.graph.state_dict()) {
    INFO(n);
    if (t.dtype() == DType::f32) CHECK(max_rel_diff(open.graph.value(open.graph.at(n)).data, t) == 0);
  }
  Rng rng(3);
  randomize_batchnorm(plain.graph, rng);
  copy_state(plain.graph, open.graph);
  auto backend = make_backend("cpu");
  Executor ex_plain(plain.graph, *backend), ex_open(open.graph, *backend);
  const std::vector<Tensor> feeds = batch(o, 2, rng);
  INFO(name);

  ex_plain.forward(feeds, Mode::eval);
  ex_open.forward(feeds, Mode::eval);
  CHECK(max_rel_diff(ex_open.value(open.logits), ex_plain.value(plain.logits)) < 1e-6);

  // Training: the same, and the same gradients; no gradient reaches saturated gates.
  const NamedTensors before = [&] {
    NamedTensors s;
    for (const auto& [n, t] : plain.graph.state_dict()) s.emplace_back(n, t.clone());
    return s;
  }();
  ex_plain.forward(feeds, Mode::train);
  ex_plain.backward(plain.loss);
  for (const auto& [n, t] : before) open.graph.value(open.graph.at(n)).data.copy_from(t);
  ex_open.forward(feeds, Mode::train);
  ex_open.backward(open.loss);
  CHECK(max_rel_diff(ex_open.value(open.logits), ex_plain.value(plain.logits)) < 1e-6);
  for (ValueId p : plain.graph.params()) {
    const std::string& n = plain.graph.value(p).name;
    INFO(n);
    CHECK(max_rel_diff(ex_open.grad(open.graph.at(n)), ex_plain.grad(p)) < 1e-5);
  }
  for (ValueId p : open.graph.params())
    if (open.graph.value(p).name.find(".gate.logits") != std::string::npos)
      CHECK(backend->sum_squares(ex_open.grad(p)) == 0);
}

TEST_CASE("gates with a fused ReLU train as unfused ones", "[zoo][gate][cpu]") {
  ModelOptions o = gated({});
  o.image_size = 12;
  o.gate_temperature = 0.5;  // soft gates: every logit gets a gradient
  Model m = build_model("resnet20", o);
  Rng rng(11);
  randomize_batchnorm(m.graph, rng);
  auto backend = make_backend("cpu");
  Executor fused(m.graph, *backend);
  Executor plain(m.graph, *backend, Executor::Options{.fuse_relu = false, .fold_batchnorm = false});
  const std::vector<Tensor> feeds = batch(o, 4, rng);
  fused.forward(feeds, Mode::eval);
  plain.forward(feeds, Mode::eval);
  CHECK(max_rel_diff(fused.value(m.logits), plain.value(m.logits)) < 1e-5);

  NamedTensors before;
  for (const auto& [n, t] : m.graph.state_dict()) before.emplace_back(n, t.clone());
  // Both executors are at their second step: the same seed, so the same gate samples.
  fused.forward(feeds, Mode::train);
  fused.backward(m.loss);
  const Tensor logits = fused.value(m.logits).clone();
  std::vector<Tensor> grads;
  for (ValueId p : m.graph.params()) grads.push_back(fused.grad(p).clone());
  for (size_t i = 0; i < before.size(); ++i) m.graph.state_dict()[i].second.copy_from(before[i].second);
  plain.forward(feeds, Mode::train);
  plain.backward(m.loss);
  CHECK(max_rel_diff(logits, plain.value(m.logits)) < 1e-5);
  for (size_t i = 0; i < grads.size(); ++i) {
    const std::string& n = m.graph.value(m.graph.params()[i]).name;
    INFO(n);
    CHECK(max_rel_diff(grads[i], plain.grad(m.graph.params()[i])) < 1e-4);
    if (n.find(".gate.logits") != std::string::npos) CHECK(backend->sum_squares(grads[i]) > 0);
  }
}

namespace {
const char* kYamlNet = R"(
- {name: conv1, op: conv2d, out_channels: 6, kernel: 3, padding: 1}
- {name: bn1, op: batchnorm2d}
- {name: relu1, op: relu}
- {name: conv2, op: conv2d, out_channels: 5, kernel: 1, bias: true}
- {name: gap, op: global_avgpool2d}
- {name: flat, op: flatten}
- {name: fc1, op: linear, out_features: 7}
- {name: relu2, op: relu}
- {name: fc2, op: linear, out_features: 3}
)";
}  // namespace

TEST_CASE("YAML graphs: gating, and explicit gate layers", "[yaml][gate]") {
  SECTION("gating gates a conv's batch norm and the hidden linears") {
    ModelOptions o = gated({}, 1.5);
    o.num_classes = 3;
    o.graph_spec = YAML::Load(kYamlNet);
    const Model m = build_model("yaml", o);
    CHECK(m.graph.find("conv1.gate") >= 0);
    CHECK(m.graph.find("conv2.gate") < 0);  // no batch norm: no gate
    CHECK(m.graph.find("fc1.gate") >= 0);
    CHECK(m.graph.find("fc2.gate") < 0);  // the logits
    CHECK(count_kind(m.graph, OpKind::gate) == 2);
    // Later layers that name bn1 read the gated value.
    CHECK(m.graph.node(m.graph.find_node("relu1")).inputs[0] == m.graph.at("conv1.gate"));
    CHECK(m.graph.value(m.graph.at("fc1.gate.logits")).data.at({6}) == 1.5f);
    for (const Node& n : m.graph.nodes())
      if (n.op->kind() == OpKind::gate) CHECK(dynamic_cast<const GateOp&>(*n.op).keep_first_channel());
    o.gate_keep_first_channel = false;  // model.gate_keep_first_channel: false
    const Model open = build_model("yaml", o);
    for (const Node& n : open.graph.nodes())
      if (n.op->kind() == OpKind::gate) CHECK(!dynamic_cast<const GateOp&>(*n.op).keep_first_channel());
  }
  SECTION("an explicit gate layer") {
    Graph g;
    ModelBuilder b(g, 0);
    const YAML::Node spec = YAML::Load(R"(
- {name: conv1, op: conv2d, out_channels: 4, kernel: 3}
- {name: g1, op: gate, temperature: 0.25, init_logit: -1, keep_first_channel_alive: false}
- {name: g2, op: gate, inputs: conv1}
)");
    build_yaml_graph(b, b.input("images", {3, 8, 8}), spec, "net.yaml");
    const auto& op = dynamic_cast<const GateOp&>(*g.node(g.find_node("g1")).op);
    CHECK(op.temperature() == 0.25);
    CHECK(!op.keep_first_channel());
    CHECK(dynamic_cast<const GateOp&>(*g.node(g.find_node("g2")).op).keep_first_channel());  // the default
    CHECK(g.value(g.at("g1.logits")).data.at({3}) == -1.0f);
    CHECK(g.value(g.at("g2.logits")).data.at({0}) == 2.5f);  // morph-net's default
  }
  SECTION("errors: a gate on a gate, a bad temperature") {
    auto error_of = [](const std::string& text) {
      Graph g;
      ModelBuilder b(g, 0);
      try {
        build_yaml_graph(b, b.input("images", {3, 8, 8}), YAML::Load(text), "net.yaml");
      } catch (const ConfigError& e) {
        return std::string(e.what());
      }
      return std::string("no error");
    };
    CHECK_THAT(error_of("- {name: c, op: conv2d, out_channels: 2, kernel: 1}\n"
                        "- {name: g1, op: gate}\n- {name: g2, op: gate}\n"),
               Contains("layer 'g2'") && Contains("a gate's output already"));
    CHECK_THAT(error_of("- {name: c, op: conv2d, out_channels: 2, kernel: 1}\n"
                        "- {name: g1, op: gate, temperature: 0}\n"),
               Contains("field 'temperature'") && Contains("must be > 0"));
  }
}

TEST_CASE("the regularizer's gate samples are the ones the training forward drew", "[zoo][gate][cpu][morph]") {
  ModelOptions o;
  o.image_size = 12;
  o.seed = 4;
  o.gating = true;
  o.gate_temperature = 0.5;  // samples strictly inside (0, 1): y / x recovers them
  Model m = build_model("resnet20", o);
  Rng rng(6);
  randomize_batchnorm(m.graph, rng);
  for (ValueId p : m.graph.params())
    if (m.graph.value(p).name.find(".gate.logits") != std::string::npos) {
      Tensor& t = m.graph.value(p).data;
      for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(rng.uniform(-2, 2));
    }
  auto backend = make_backend("cpu");
  Executor::Options eo;
  eo.reuse_memory = false;  // read every gate's input and output after the step
  eo.fuse_relu = false;     // the gate's output is x * g, not relu(x) * g
  Executor ex(m.graph, *backend, eo);
  ex.set_seed(123);
  ex.forward(batch(o, 2, rng), Mode::train);
  ex.backward(m.loss);

  morph::RegularizerOptions ro;
  ro.method = morph::Method::logistic_sigmoid;
  const auto reg = morph::make_regularizer(m.graph, m.logits, ro);
  const morph::GateSeeds seeds = [&ex](int node) { return ex.node_seed(node); };
  const morph::GroupState state = reg->group_regularizer().evaluate(&seeds);
  const std::vector<ValueId> params = reg->group_regularizer().params();
  REQUIRE(state.samples.size() == params.size());
  int checked = 0;
  for (size_t pi = 0; pi < params.size(); ++pi) {
    const Node* gate = nullptr;
    for (const Node& n : m.graph.nodes())
      if (n.op->kind() == OpKind::gate && n.inputs[1] == params[pi]) gate = &n;
    REQUIRE(gate != nullptr);
    const Tensor x = ex.value(gate->inputs[0]).to(Layout::nchw);
    const Tensor y = ex.value(gate->outputs[0]).to(Layout::nchw);
    const int64_t C = x.dim(1), plane = x.dim(2) * x.dim(3);
    for (int64_t c = 0; c < C; ++c) {
      // The first element of the channel that is far from 0 gives the channel's g as y / x.
      for (int64_t i = 0; i < plane; ++i) {
        const float xv = x.data<float>()[c * plane + i];
        if (std::abs(xv) < 0.1f) continue;
        INFO(gate->name << " channel " << c);
        CHECK(y.data<float>()[c * plane + i] / xv == Approx(state.samples[pi][c].g).epsilon(1e-5).margin(1e-6));
        ++checked;
        break;
      }
    }
  }
  CHECK(checked > 300);
}
