// The FiGS gate (core/ops/gate.h, gate_fwd/gate_bwd of each backend): the cpu backend against the
// reference on odd shapes and mixed layouts, the sampling law of the training gates, the eval
// gates by hand, and the op's gradients against finite differences in f64.
#include <catch2/catch.hpp>
#include <cmath>
#include <deque>

#include "core/ops/gate.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "tests/kernels/gradcheck.h"

namespace mt {
namespace {

double sigmoid(double z) { return 1 / (1 + std::exp(-z)); }

// f64 logits in [-2, 2] kept `gap` away from 0, where the eval gate jumps.
Tensor logits_off_zero(int64_t C, test::Rng& rng, double gap = 0.2) {
  Tensor t = test::off_zero({C}, rng, Layout::nchw, gap);
  double* p = t.data<double>();
  for (int64_t c = 0; c < C; ++c) p[c] *= 2;
  return t;
}

struct GateCase {
  Shape x;
  Layout x_layout, out_layout;  // out: y, dy and dx
  GateDesc d;
};

struct GateOut {
  Tensor y, dx, dlogits, gates;
};

GateOut run_kernels(KernelBackend& be, const GateDesc& d, const Tensor& x, const Tensor& logits,
                    const Tensor& dy, Layout out_layout) {
  const Layout l = x.rank() == 4 ? out_layout : Layout::nchw;
  GateOut o{Tensor::zeros(x.shape(), x.dtype(), l), Tensor::zeros(x.shape(), x.dtype(), l),
            Tensor::zeros(logits.shape(), x.dtype()), Tensor()};
  be.gate_fwd(d, x, logits, o.y, o.gates);
  be.gate_bwd(d, x, dy, o.gates, o.dx, o.dlogits);
  return o;
}

void check_cpu_matches_reference(const GateCase& c) {
  test::Rng rng(std::hash<std::string>{}(c.x.str()) + c.d.relu + 2 * c.d.train);
  const Layout xl = c.x.rank() == 4 ? c.x_layout : Layout::nchw;
  const Layout ol = c.x.rank() == 4 ? c.out_layout : Layout::nchw;
  // Rounded to f32 first, so both backends see the same numbers.
  const Tensor x = test::off_zero(c.x, rng, xl).to(DType::f32);
  const Tensor dy = test::uniform(c.x, rng, ol).to(DType::f32);
  // Logits near the noise's scale, so that gates of every openness occur.
  const Tensor logits = test::uniform({c.x[1]}, rng, Layout::nchw, -3, 3).to(DType::f32);
  ReferenceBackend ref;
  CpuBackend cpu;
  const GateOut want =
      run_kernels(ref, c.d, x.to(DType::f64), logits.to(DType::f64), dy.to(DType::f64), ol);
  const GateOut got = run_kernels(cpu, c.d, x, logits, dy, ol);
  const std::pair<const char*, std::pair<Tensor, Tensor>> outputs[] = {
      {"y", {got.y, want.y}},
      {"dx", {got.dx, want.dx}},
      {"dlogits", {got.dlogits, want.dlogits}},
      {"gates", {got.gates, want.gates}}};
  for (const auto& [name, pair] : outputs) {
    INFO(c.x.str() << " x " << test::layout_name(xl) << " out " << test::layout_name(ol)
                   << " train " << c.d.train << " relu " << c.d.relu << " T " << c.d.temperature
                   << ": " << name);
    CHECK(max_rel_diff(pair.first, pair.second) < 1e-5);
    // Nearly hard gates rarely sit on their slope: dlogits may rightly be all zero then.
    const bool may_vanish = std::string(name) == "dlogits" && c.d.train && c.d.temperature < 0.01;
    if (!may_vanish)
      CHECK(max_rel_diff(pair.second, Tensor::zeros(pair.second.shape(), DType::f64)) > 0);
  }
}

}  // namespace

TEST_CASE("gate: the cpu backend matches the reference", "[cpu][gate]") {
  const Shape shapes[] = {{3, 17, 5, 7}, {2, 5, 1, 1}, {4, 13}, {8, 24, 16, 16} /* threaded */};
  for (const Shape& s : shapes)
    for (const bool train : {true, false})
      for (const bool relu : {false, true})
        for (const Layout xl : {Layout::nhwc, Layout::nchw})
          for (const Layout ol : {Layout::nhwc, Layout::nchw}) {
            if (s.rank() == 2 && (xl != Layout::nchw || ol != Layout::nchw)) continue;
            GateDesc d;
            d.train = train;
            d.relu = relu;
            d.seed = 77;
            d.temperature = 0.5;
            check_cpu_matches_reference({s, xl, ol, d});
            d.temperature = 0.001;  // morph-net's default: nearly hard gates
            check_cpu_matches_reference({s, xl, ol, d});
          }
}

TEST_CASE("gate: eval gates are sigmoid(logit) where the logit is positive, else 0",
          "[reference][gate]") {
  ReferenceBackend be;
  Tensor x = Tensor::empty({2, 3, 1, 2}, DType::f64);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<double>()[i] = 1 + static_cast<double>(i);
  Tensor logits = Tensor::empty({3}, DType::f64);
  const double l[] = {2.0, -1.0, 0.0};
  std::copy(std::begin(l), std::end(l), logits.data<double>());
  GateDesc d;
  d.train = false;
  Tensor y = Tensor::zeros(x.shape(), DType::f64), gates;
  be.gate_fwd(d, x, logits, y, gates);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t w = 0; w < 2; ++w) {
      CHECK(y.at({n, 0, 0, w}) == Approx(x.at({n, 0, 0, w}) * sigmoid(2.0)).epsilon(1e-14));
      CHECK(y.at({n, 1, 0, w}) == 0);
      CHECK(y.at({n, 2, 0, w}) == 0);  // p = 0.5 exactly is not > 0.5
    }
  CHECK(gates.at({1, 0}) == Approx(sigmoid(2.0) * (1 - sigmoid(2.0))).epsilon(1e-14));
  CHECK(gates.at({1, 1}) == 0);

  // Deterministic: the seed plays no part.
  Tensor again = Tensor::zeros(x.shape(), DType::f64), gates2;
  d.seed = 12345;
  be.gate_fwd(d, x, logits, again, gates2);
  CHECK(max_rel_diff(again, y) == 0);
}

TEST_CASE("gate: keep_first_channel holds channel 0 open in training and evaluation, without gradient",
          "[reference][cpu][gate]") {
  test::Rng rng(31);
  const Tensor x = test::off_zero({3, 6, 4, 5}, rng).to(DType::f32);
  const Tensor dy = test::uniform(x.shape(), rng).to(DType::f32);
  Tensor logits = test::uniform({6}, rng, Layout::nchw, -3, 3).to(DType::f32);
  logits.data<float>()[0] = -30;  // shut, were it not kept open
  ReferenceBackend ref;
  CpuBackend cpu;
  for (const bool train : {true, false}) {
    GateDesc d;
    d.train = train;
    d.seed = 5;
    d.temperature = 0.5;
    const GateOut plain = run_kernels(ref, d, x.to(DType::f64), logits.to(DType::f64), dy.to(DType::f64), Layout::nchw);
    d.keep_first_channel = true;
    for (KernelBackend* be : {static_cast<KernelBackend*>(&ref), static_cast<KernelBackend*>(&cpu)}) {
      INFO(be->name() << " train " << train);
      const bool f64 = be == &ref;
      const GateOut kept = f64 ? run_kernels(*be, d, x.to(DType::f64), logits.to(DType::f64), dy.to(DType::f64), Layout::nchw)
                               : run_kernels(*be, d, x, logits, dy, Layout::nchw);
      const Tensor y = kept.y.to(DType::f64), dx = kept.dx.to(DType::f64), dl = kept.dlogits.to(DType::f64);
      for (int64_t n = 0; n < 3; ++n)
        for (int64_t h = 0; h < 4; ++h)
          for (int64_t w = 0; w < 5; ++w) {
            CHECK(y.at({n, 0, h, w}) == static_cast<double>(x.to(DType::f64).at({n, 0, h, w})));
            CHECK(dx.at({n, 0, h, w}) == Approx(dy.to(DType::f64).at({n, 0, h, w})).epsilon(1e-6));
            CHECK(plain.y.at({n, 0, h, w}) == Approx(0).margin(1e-12));  // without it: shut
            for (int64_t c = 1; c < 6; ++c)  // the other channels as without it
              CHECK(y.at({n, c, h, w}) == Approx(plain.y.at({n, c, h, w})).epsilon(1e-5).margin(1e-7));
          }
      CHECK(dl.at({0}) == 0);
      for (int64_t c = 1; c < 6; ++c) CHECK(dl.at({c}) == Approx(plain.dlogits.at({c})).epsilon(1e-4).margin(1e-6));
    }
  }
  CHECK(GateOp(0.5, true).attributes()["keep_first_channel_alive"] == true);
  CHECK(GateOp(0.5).desc(false).keep_first_channel == false);
}

TEST_CASE("gate: training samples one gate per channel, Bernoulli(sigmoid(logit)) as T -> 0",
          "[reference][gate]") {
  ReferenceBackend be;
  const int64_t C = 4000;
  test::Rng rng(5);
  const Tensor x = test::uniform({3, C, 2, 2}, rng, Layout::nchw, 0.5, 1.5);
  Tensor logits = Tensor::empty({C}, DType::f64);
  logits.fill(1.0);
  GateDesc d;  // temperature 0.001
  d.seed = 99;
  Tensor y = Tensor::zeros(x.shape(), DType::f64), gates;
  be.gate_fwd(d, x, logits, y, gates);
  int64_t open = 0;
  double worst = 0;  // the largest |y / x - g| over the channel's examples and pixels
  for (int64_t c = 0; c < C; ++c) {
    const double g = gates.at({0, c});
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t w = 0; w < 2; ++w)
          worst = std::max(worst, std::abs(y.at({n, c, h, w}) / x.at({n, c, h, w}) - g));
    open += g > 0.5;
  }
  // Every example and pixel of a channel shares its gate.
  CHECK(worst < 1e-15);
  // P(logit + logistic noise > 0) = sigmoid(logit) = 0.731; 4000 channels: std 0.007.
  CHECK(static_cast<double>(open) / C == Approx(sigmoid(1.0)).margin(0.03));

  // The same seed gives the same gates; another seed others.
  Tensor y2 = Tensor::zeros(x.shape(), DType::f64), gates2;
  be.gate_fwd(d, x, logits, y2, gates2);
  CHECK(max_rel_diff(y2, y) == 0);
  d.seed = 100;
  be.gate_fwd(d, x, logits, y2, gates2);
  CHECK(max_rel_diff(y2, y) > 0.5);
}

namespace {
// The op's forward and backward through an OpContext, as the executor calls them.
struct OpRun {
  Tensor y, dx, dlogits;
};

OpRun run_op(const GateOp& op, Mode mode, uint64_t seed, bool relu, const Tensor& x,
             const Tensor& logits, const Tensor* dy) {
  ReferenceBackend be;
  std::deque<Tensor> state;
  OpRun r{Tensor::zeros(x.shape(), DType::f64, x.layout()), Tensor(), Tensor()};
  OpContext ctx{be, mode, seed, relu, {&x, &logits}, {&r.y}, state, {}, {}};
  op.forward(ctx);
  if (!dy) return r;
  r.dx = Tensor::zeros(x.shape(), DType::f64, x.layout());
  r.dlogits = Tensor::zeros(logits.shape(), DType::f64);
  ctx.doutputs = {dy};
  ctx.dinputs = {&r.dx, &r.dlogits};
  op.backward(ctx);
  return r;
}

void check_op_grads(Mode mode, bool relu, const Shape& shape, Layout layout) {
  test::Rng rng(31 + relu + 2 * (mode == Mode::train));
  Tensor x = test::off_zero(shape, rng, layout);  // off the ReLU kink
  Tensor logits = logits_off_zero(shape[1], rng);
  const Tensor r = test::uniform(shape, rng, layout);
  // A temperature of 0.5 keeps sampled gates smooth enough for finite differences.
  const GateOp op(0.5);
  const uint64_t seed = 2718;
  const OpRun run = run_op(op, mode, seed, relu, x, logits, &r);
  auto loss = [&] { return test::dot(r, run_op(op, mode, seed, relu, x, logits, nullptr).y); };
  test::check_grad("dx", run.dx, x, loss);
  test::check_grad("dlogits", run.dlogits, logits, loss);
}
}  // namespace

TEST_CASE("gate op: gradients match finite differences in f64", "[grad][gate]") {
  for (const Mode mode : {Mode::eval, Mode::train})
    for (const bool relu : {false, true}) {
      DYNAMIC_SECTION((mode == Mode::train ? "train" : "eval") << ", fused ReLU " << relu) {
        check_op_grads(mode, relu, {3, 5, 4, 3}, Layout::nchw);
        check_op_grads(mode, relu, {2, 6, 3, 3}, Layout::nhwc);
        check_op_grads(mode, relu, {4, 7}, Layout::nchw);
      }
    }
}

TEST_CASE("gate op: a fixed seed fixes the noise; eval ignores it", "[gate]") {
  test::Rng rng(8);
  const Tensor x = test::uniform({2, 9, 3, 3}, rng);
  const Tensor logits = logits_off_zero(9, rng);
  const GateOp op(0.5);
  const Tensor a = run_op(op, Mode::train, 1, false, x, logits, nullptr).y;
  CHECK(max_rel_diff(run_op(op, Mode::train, 1, false, x, logits, nullptr).y, a) == 0);
  CHECK(max_rel_diff(run_op(op, Mode::train, 2, false, x, logits, nullptr).y, a) > 1e-3);
  const Tensor e = run_op(op, Mode::eval, 1, false, x, logits, nullptr).y;
  CHECK(max_rel_diff(run_op(op, Mode::eval, 2, false, x, logits, nullptr).y, e) == 0);
  CHECK(op.attributes()["temperature"] == 0.5);
  CHECK_THROWS_AS(GateOp(0.0), ShapeError);
  const std::vector<Shape> wrong_logits{Shape{2, 9, 3, 3}, Shape{8}};
  CHECK_THROWS_AS(op.infer_shapes(wrong_logits), ShapeError);
}

}  // namespace mt
