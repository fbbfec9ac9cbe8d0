// Network regularizers: analytic term gradients against central differences for every method x
// target, planted parameters against exact alive counts and costs.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <memory>

#include "layers/zoo/model.h"
#include "morph/latency_table.h"
#include "morph/network_regularizer.h"
#include "tests/morph/test_models.h"

using namespace mt;
using morph::Method;
using morph::CostTarget;
using morph::NetworkRegularizer;

namespace {

morph::RegularizerOptions options(Method m, CostTarget t) {
  morph::RegularizerOptions o;
  o.method = m;
  o.target = t;
  o.batch_size = 4;
  return o;
}

void set(Graph& g, const std::string& param, int64_t i, double v) {
  Tensor& t = g.value(g.at(param)).data;
  if (t.dtype() == DType::f64) t.data<double>()[i] = v;
  else t.data<float>()[i] = static_cast<float>(v);
}

double get(const Tensor& t, int64_t i) {
  return t.dtype() == DType::f64 ? t.data<double>()[i] : static_cast<double>(t.data<float>()[i]);
}

// Dead channels for every method, away from thresholds and ties.
void plant_dead_channels(Graph& g) {
  set(g, "a_bn.weight", 1, 2e-4);   // group 1 (a_bn only): dead under gamma
  set(g, "s_bn.weight", 2, -3e-4);  // group 6 keeps b_bn[2]: alive
  set(g, "d_bn.weight", 0, 5e-4);
  set(g, "e_bn.weight", 0, -4e-4);  // group 11: both batch norms tiny: dead
  for (int64_t i = 0; i < 27; ++i) set(g, "a.weight", 2 * 27 + i, 1e-3 * (i % 5 - 2.2));  // filter a[2]
  set(g, "a_gate.logits", 0, -2.0);  // p = 0.12: dead
  set(g, "b_gate.logits", 3, -1.5);
  set(g, "s_gate.logits", 3, -0.7);  // group 7: both closed: dead
  set(g, "d_gate.logits", 4, -1.1);
}

std::map<ValueId, Tensor> zero_grads(const Graph& g, const NetworkRegularizer& reg, DType dtype) {
  std::map<ValueId, Tensor> grads;
  for (ValueId p : reg.group_regularizer().params()) grads[p] = Tensor::zeros(g.value(p).shape, dtype);
  return grads;
}

morph::GradientSink sink_of(std::map<ValueId, Tensor>& grads) {
  return [&grads](ValueId p) { return &grads.at(p); };
}

}  // namespace

TEST_CASE("the term's gradient matches central differences", "[morph][regularizer][grad]") {
  const Method method = GENERATE(Method::gamma, Method::group_lasso, Method::logistic_sigmoid);
  const CostTarget target = GENERATE(CostTarget::flops, CostTarget::model_size, CostTarget::latency);
  auto net = test::make_tiny_net();
  Graph& g = net->m.graph;
  plant_dead_channels(g);
  auto o = options(method, target);
  o.l1_fraction = method == Method::group_lasso ? 0.25 : 0;
  o.hardware = morph::custom_hardware("toy", 1, 2);  // a mix of compute- and memory-bound ops
  // Latency also from a measured table (the marginal latency of each channel as coefficient):
  // every conv and linear of the net gets a smooth, increasing table on the calibration grid.
  const bool measured = target == CostTarget::latency && GENERATE(false, true);
  if (measured) {
    const morph::CostModel plain(morph::ChannelGroups(g, net->logits), morph::CostOptions{CostTarget::latency, o.hardware});
    auto table = std::make_shared<morph::LatencyTable>();
    for (const morph::CostOp& op : plain.ops()) {
      if (op.shape_key.empty()) continue;
      morph::LatencyEntry e{op.shape_key, morph::channel_grid(op.in.total), morph::channel_grid(op.out.total), {}};
      for (double a : e.in) {
        e.ns.emplace_back();
        for (double b : e.out) e.ns.back().push_back(100 + 7 * a * b + 3 * a + 11 * std::pow(b, 1.5));
      }
      table->add(std::move(e));
    }
    REQUIRE(table->size() > 0);
    o.hardware.measured = table;
  }
  const auto reg = morph::make_regularizer(g, net->logits, o);
  INFO(reg->name());
  CHECK(reg->cost() < reg->full_cost());  // the planted channels are dead
  CHECK(reg->regularization_term() > 0);

  auto grads = zero_grads(g, *reg, DType::f64);
  const double scale = 0.7;
  const double term = reg->add_term_gradient(scale, sink_of(grads));
  CHECK(term == reg->regularization_term());
  const double eps = 1e-6;
  double max_err = 0, max_grad = 0;
  for (auto& [p, grad] : grads) {
    double* x = g.value(p).data.data<double>();
    for (int64_t i = 0; i < grad.numel(); ++i) {
      const double saved = x[i];
      x[i] = saved + eps;
      const double up = reg->regularization_term();
      x[i] = saved - eps;
      const double down = reg->regularization_term();
      x[i] = saved;
      const double fd = scale * (up - down) / (2 * eps);
      max_err = std::max(max_err, std::abs(fd - grad.data<double>()[i]));
      max_grad = std::max(max_grad, std::abs(fd));
    }
  }
  CHECK(max_grad > 0);
  CHECK(max_err <= 1e-6 * max_grad);
}

TEST_CASE("strength 0 leaves the gradients alone; the gradient scales with the strength",
          "[morph][regularizer]") {
  auto net = test::make_tiny_net();
  const auto reg = morph::make_regularizer(net->m.graph, net->logits,
                                           options(Method::logistic_sigmoid, CostTarget::flops));
  auto grads = zero_grads(net->m.graph, *reg, DType::f64);
  for (auto& [p, t] : grads) t.fill(0.25);
  reg->add_term_gradient(0.0, sink_of(grads));
  for (auto& [p, t] : grads)
    for (int64_t i = 0; i < t.numel(); ++i) REQUIRE(t.data<double>()[i] == 0.25);
  auto once = zero_grads(net->m.graph, *reg, DType::f64);
  auto twice = zero_grads(net->m.graph, *reg, DType::f64);  // (a copy would share storage)
  reg->add_term_gradient(1.0, sink_of(once));
  reg->add_term_gradient(2.0, sink_of(twice));
  for (auto& [p, t] : once)
    for (int64_t i = 0; i < t.numel(); ++i) CHECK(twice.at(p).data<double>()[i] == 2 * t.data<double>()[i]);
  // A sink that returns null skips that parameter.
  CHECK_NOTHROW(reg->add_term_gradient(1.0, [](ValueId) { return nullptr; }));
}

TEST_CASE("with every channel alive the cost is the full cost", "[morph][regularizer]") {
  const Method method = GENERATE(Method::gamma, Method::group_lasso, Method::logistic_sigmoid);
  const CostTarget target = GENERATE(CostTarget::flops, CostTarget::model_size, CostTarget::latency);
  auto net = test::make_tiny_net();
  const auto reg = morph::make_regularizer(net->m.graph, net->logits, options(method, target));
  INFO(reg->name());
  CHECK(reg->cost() == reg->full_cost());
  CHECK(reg->full_cost() > 0);
  for (bool a : reg->group_alive()) CHECK(a);
}

TEST_CASE("gamma FLOPs on resnet20: exact term, gradient and savings", "[morph][regularizer]") {
  layers::Model model = layers::build_model("resnet20", {});
  Graph& g = model.graph;
  const auto reg = morph::make_regularizer(g, model.logits, options(Method::gamma, CostTarget::flops));
  const double full = 81'102'080;
  CHECK(reg->full_cost() == full);
  CHECK(reg->name() == "GammaFlops");
  // All gammas 1: every op contributes 2 x its FLOPs, except conv1 (fixed image inputs) and the
  // fc (fixed logits), which contribute their FLOPs once.
  const double conv1 = 2.0 * 1024 * 27 * 16, fc = 2.0 * 64 * 10;
  CHECK(reg->regularization_term() == Approx(2 * full - conv1 - fc).epsilon(1e-12));

  // d term / d gamma for layer1.0.bn1[0]: conv1's output and conv2's input, 2 x 1024 x 9 x 16 each.
  auto grads = zero_grads(g, *reg, DType::f32);
  reg->add_term_gradient(1e-9, sink_of(grads));
  CHECK(get(grads.at(g.at("layer1.0.bn1.weight")), 0) == Approx(1e-9 * 2 * 2 * 1024 * 9 * 16).epsilon(1e-6));

  SECTION("four dead inner channels") {
    for (int c = 0; c < 4; ++c) set(g, "layer1.0.bn1.weight", c, 0.0);
    CHECK(reg->cost() == full - 2.0 * 2 * 1024 * 9 * 16 * 4);
    CHECK(reg->alive_vectors().at("layer1.0.conv1") ==
          std::vector<bool>{false, false, false, false, true, true, true, true, true, true, true, true,
                            true, true, true, true});
  }
  SECTION("a trunk channel dies only when all ten of its batch norms do") {
    set(g, "bn1.weight", 0, 0.0);
    CHECK(reg->cost() == full);
    for (const char* bn : {"layer1.0.bn2", "layer1.1.bn2", "layer1.2.bn2"}) set(g, std::string(bn) + ".weight", 0, 0.0);
    for (const char* bn : {"layer2.0.bn2", "layer2.1.bn2", "layer2.2.bn2"}) set(g, std::string(bn) + ".weight", 8, 0.0);
    for (const char* bn : {"layer3.0.bn2", "layer3.1.bn2"}) set(g, std::string(bn) + ".weight", 24, 0.0);
    CHECK(reg->cost() == full);
    set(g, "layer3.2.bn2.weight", 24, 5e-4);  // under the 1e-3 threshold
    // Its channel leaves: conv1 (from 3 image channels), layer1's three conv2 outputs and conv1
    // inputs, layer2.0.conv1's input, layer2's conv2 outputs (channel 8) and two conv1 inputs,
    // layer3.0.conv1's input, layer3's conv2 outputs (24) and two conv1 inputs, one fc input.
    const double macs = 1024 * 9 * 3 + 3 * 1024 * 9 * 16 + 3 * 1024 * 9 * 16 + 256 * 9 * 32 + 3 * 256 * 9 * 32 +
                        2 * 256 * 9 * 32 + 64 * 9 * 64 + 3 * 64 * 9 * 64 + 2 * 64 * 9 * 64 + 10;
    CHECK(reg->cost() == full - 2 * macs);
  }
}

TEST_CASE("group lasso prunes by filter norm; gates by probability", "[morph][regularizer]") {
  SECTION("group lasso FLOPs on resnet20") {
    layers::Model model = layers::build_model("resnet20", {});
    const auto reg = morph::make_regularizer(model.graph, model.logits,
                                             options(Method::group_lasso, CostTarget::flops));
    CHECK(reg->cost() == reg->full_cost());
    for (int64_t i = 0; i < 4 * 144; ++i) set(model.graph, "layer1.0.conv1.weight", i, 1e-3);  // rms 1e-3
    CHECK(reg->full_cost() - reg->cost() == 2.0 * 2 * 1024 * 9 * 16 * 4);
  }
  SECTION("grouped gates: 1 - prod(1 - p), alive if any is open") {
    auto net = test::make_tiny_net();
    Graph& g = net->m.graph;
    const auto reg = morph::make_regularizer(g, net->logits, options(Method::logistic_sigmoid, CostTarget::flops));
    CHECK(reg->name() == "LogisticSigmoidFlops");
    set(g, "b_gate.logits", 1, -2.0);
    set(g, "s_gate.logits", 1, 0.5);
    const auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
    auto s = reg->group_regularizer().evaluate();
    CHECK(s.reg[5] == Approx(1 - (1 - sig(-2.0)) * (1 - sig(0.5))).epsilon(1e-14));
    CHECK(s.alive[5]);
    set(g, "s_gate.logits", 1, -0.1);
    s = reg->group_regularizer().evaluate();
    CHECK_FALSE(s.alive[5]);
    CHECK(reg->alive_vectors().at("b") == std::vector<bool>{true, false, true, true});
  }
  SECTION("grouped batch norms: the max of |gamma|") {
    auto net = test::make_tiny_net();
    Graph& g = net->m.graph;
    const auto reg = morph::make_regularizer(g, net->logits, options(Method::gamma, CostTarget::model_size));
    set(g, "b_bn.weight", 1, -0.9);
    set(g, "s_bn.weight", 1, 0.4);
    CHECK(reg->group_regularizer().evaluate().reg[5] == 0.9);
    CHECK(reg->group_regularizer().threshold() == 1e-3);
  }
}

TEST_CASE("a method without sources in the model is a configuration error", "[morph][regularizer]") {
  const layers::Model model = layers::build_model("resnet20", {});
  CHECK_THROWS_AS(morph::make_regularizer(model.graph, model.logits,
                                          options(Method::logistic_sigmoid, CostTarget::flops)),
                  ConfigError);
  CHECK_THROWS_AS(morph::parse_method("l1"), ConfigError);
  CHECK(morph::parse_cost_target("latency") == CostTarget::latency);
  const auto lat = morph::make_regularizer(model.graph, model.logits, options(Method::gamma, CostTarget::latency));
  CHECK(lat->cost_name() == "V100 Latency");
  CHECK(lat->name() == "GammaLatency");
}

TEST_CASE("logistic sigmoid on the zoo's gated models", "[morph][regularizer][gate]") {
  layers::ModelOptions o;
  o.gating = true;
  SECTION("resnet20: gates are sources, the groups do not change") {
    layers::Model model = layers::build_model("resnet20", o);
    const auto reg = morph::make_regularizer(model.graph, model.logits,
                                             options(Method::logistic_sigmoid, CostTarget::flops));
    CHECK(reg->groups().num_groups() == 400);
    CHECK(reg->cost() == reg->full_cost());
    CHECK(reg->full_cost() == 81'102'080);
    const int g0 = reg->groups().group_of(model.graph.at("conv1"), 0);
    CHECK(reg->groups().group(g0).gates.size() == 10);
    // Channel 0 of every gate stays open (keep_first_channel_alive): closing it changes nothing.
    set(model.graph, "layer1.0.conv1.gate.logits", 0, -1.0);
    CHECK(reg->cost() == reg->full_cost());
    for (int c = 1; c < 5; ++c) set(model.graph, "layer1.0.conv1.gate.logits", c, -1.0);
    CHECK(reg->full_cost() - reg->cost() == 2.0 * 2 * 1024 * 9 * 16 * 4);
    // The initial logit 2.5 everywhere: r = sigmoid(2.5) for a one-gate group.
    const int inner = reg->groups().group_of(model.graph.at("layer1.0.conv1"), 5);
    CHECK(reg->group_regularizer().evaluate().reg[inner] == Approx(1 / (1 + std::exp(-2.5))).epsilon(1e-12));
  }
  SECTION("vgg_small: the hidden linear's gate makes it a source") {
    layers::Model model = layers::build_model("vgg_small", o);
    const auto reg = morph::make_regularizer(model.graph, model.logits,
                                             options(Method::logistic_sigmoid, CostTarget::model_size));
    for (int c = 1; c < 7; ++c) set(model.graph, "classifier.0.gate.logits", c, -3.0);
    CHECK(reg->full_cost() - reg->cost() == 6.0 * (2048 + 10));
    CHECK(reg->alive_vectors().at("classifier.0.gate").size() == 256);
  }
}

TEST_CASE("gates regularized on their sampled mask: the term and its gradient are the sample's",
          "[morph][regularizer][gate][grad]") {
  layers::ModelOptions o;
  o.gating = true;
  o.gate_temperature = 1.0;  // soft samples, so that every logit has a gradient worth checking
  o.image_size = 8;
  o.dtype = DType::f64;
  layers::Model model = layers::build_model("resnet20", o);
  Graph& g = model.graph;
  auto opts = options(Method::logistic_sigmoid, CostTarget::flops);
  const auto on_mask = morph::make_regularizer(g, model.logits, opts);
  opts.regularize_on_mask = false;
  const auto on_prob = morph::make_regularizer(g, model.logits, opts);
  // Logits over [-3, 3], so that samples and probabilities of every openness occur.
  int k = 0;
  for (ValueId p : on_mask->group_regularizer().params()) {
    Tensor& t = g.value(p).data;
    for (int64_t i = 0; i < t.numel(); ++i, ++k) t.data<double>()[i] = -3 + 6 * std::fmod(0.618034 * k, 1.0);
  }
  const morph::GateSeeds seeds = [](int node) { return 0x5DEECE66Dull * static_cast<uint64_t>(node + 1); };

  const morph::Evaluation sampled = on_mask->evaluate(&seeds);
  const morph::Evaluation expected = on_mask->evaluate();  // no step: the probabilities
  REQUIRE(sampled.groups.samples.size() == on_mask->group_regularizer().params().size());
  CHECK(expected.groups.samples.empty());
  CHECK(on_prob->evaluate(&seeds).groups.samples.empty());  // regularize_on_mask = false
  CHECK(expected.term == Approx(on_prob->evaluate(&seeds).term).epsilon(1e-12));
  CHECK(std::abs(sampled.term - expected.term) > 1e-3 * expected.term);  // a sample, not the mean
  // The structure does not follow the noise: alive bits come from the probabilities.
  CHECK(sampled.groups.alive == expected.groups.alive);
  CHECK(sampled.cost == expected.cost);
  // Channel 0 of each gate is always open: its sample is 1 however low its logit.
  for (const auto& per_gate : sampled.groups.samples) {
    REQUIRE(!per_gate.empty());
    CHECK(per_gate[0].g == 1);
    CHECK(per_gate[0].dg == 0);
  }

  // The gradient of the sampled term (the noise held fixed) against central differences.
  std::map<ValueId, Tensor> grads;
  for (ValueId p : on_mask->group_regularizer().params()) grads[p] = Tensor::zeros(g.value(p).shape, DType::f64);
  const double scale = 0.3;
  on_mask->add_term_gradient(sampled, scale, sink_of(grads));
  const double eps = 1e-6;
  double max_err = 0, max_grad = 0;
  for (auto& [p, grad] : grads) {
    double* x = g.value(p).data.data<double>();
    for (int64_t i = 0; i < grad.numel(); i += 3) {
      const double saved = x[i];
      x[i] = saved + eps;
      const double up = on_mask->evaluate(&seeds).term;
      x[i] = saved - eps;
      const double down = on_mask->evaluate(&seeds).term;
      x[i] = saved;
      const double fd = scale * (up - down) / (2 * eps);
      max_err = std::max(max_err, std::abs(fd - grad.data<double>()[i]));
      max_grad = std::max(max_grad, std::abs(fd));
      if (i == 0) CHECK(grad.data<double>()[0] == 0);  // the open channel 0
    }
  }
  CHECK(max_grad > 0);
  CHECK(max_err <= 1e-6 * max_grad);
}
