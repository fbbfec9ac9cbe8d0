// Forward values of the reference backend on cases small enough to work out by hand (or, where
// marked, printed once by PyTorch 1.13 from Debian's python3-torch), so the oracle itself is
// pinned, plus its argument checks.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "kernels/reference/reference_backend.h"
#include "tests/kernels/gradcheck.h"

namespace mt {
namespace {

// A row-major tensor of the given values, then converted to `layout`.
Tensor values(const Shape& shape, const std::vector<double>& v, Layout layout = Layout::nchw,
              DType dtype = DType::f64) {
  REQUIRE(static_cast<int64_t>(v.size()) == shape.numel());
  Tensor t = Tensor::empty(shape, DType::f64);
  std::copy(v.begin(), v.end(), t.data<double>());
  return t.to(dtype).to(layout);
}

// Logical row-major values of any tensor.
std::vector<double> flat(const Tensor& t) {
  const Tensor r = t.to(Layout::nchw);
  if (r.dtype() == DType::i64) return {r.data<int64_t>(), r.data<int64_t>() + r.numel()};
  const Tensor r64 = r.to(DType::f64);
  return {r64.data<double>(), r64.data<double>() + r64.numel()};
}

void check_values(const Tensor& t, const std::vector<double>& expected, double eps = 1e-12) {
  const std::vector<double> got = flat(t);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == Approx(expected[i]).epsilon(eps).margin(eps));
  }
}

Tensor empty64(const Shape& s, Layout l = Layout::nchw) { return Tensor::empty(s, DType::f64, l); }

const Layout kLayouts[] = {Layout::nchw, Layout::nhwc};

TEST_CASE("reference conv2d forward on hand-computed cases", "[reference]") {
  ReferenceBackend be;
  for (Layout layout : kLayouts) {
    INFO(test::layout_name(layout));
    // 1x1: y0 = x0 + 0.5, y1 = x1, y2 = 2 x0 - x1 - 1.
    const Tensor x = values({1, 2, 1, 2}, {1, 2, 3, 4}, layout);
    const Tensor w = values({3, 2, 1, 1}, {1, 0, 0, 1, 2, -1});
    const Tensor b = values({3}, {0.5, 0, -1});
    Tensor y = empty64({1, 3, 1, 2}, layout);
    be.conv2d_fwd({}, x, w, b, y);
    check_values(y, {1.5, 2.5, 3, 4, -2, -1});

    // Groups: channel c only sees its own weight.
    Tensor yg = empty64({1, 2, 1, 2}, layout);
    Conv2dDesc grouped;
    grouped.groups = 2;
    be.conv2d_fwd(grouped, x, values({2, 1, 1, 1}, {2, 3}), Tensor{}, yg);
    check_values(yg, {2, 4, 9, 12});

    // A ones kernel counts the taps inside the input: 3x3 pad 1 on 3x3, and 3x3 dilation 2
    // stride 2 pad 2 on 5x5, give the same counts.
    const std::vector<double> counts{4, 6, 4, 6, 9, 6, 4, 6, 4};
    const Tensor ones3 = values({1, 1, 3, 3}, std::vector<double>(9, 1), layout);
    const Tensor ones5 = values({1, 1, 5, 5}, std::vector<double>(25, 1), layout);
    const Tensor k = values({1, 1, 3, 3}, std::vector<double>(9, 1));
    Tensor y3 = empty64({1, 1, 3, 3}, layout);
    be.conv2d_fwd({1, 1, 1, 1, 1, 1, 1}, ones3, k, Tensor{}, y3);
    check_values(y3, counts);
    be.conv2d_fwd({2, 2, 2, 2, 2, 2, 1}, ones5, k, Tensor{}, y3);
    check_values(y3, counts);
  }
}

TEST_CASE("reference batchnorm train statistics and running update", "[reference]") {
  ReferenceBackend be;
  const BatchNormDesc d{1e-5, 0.1};
  for (Layout layout : kLayouts) {
    INFO(test::layout_name(layout));
    // Channel 0 holds 1, 2, 3, 6 (mean 3, biased var 3.5, unbiased 14/3); channel 1 holds
    // 0, 0, 0, 4 (mean 1, var 3, unbiased 4).
    const Tensor x = values({2, 2, 1, 2}, {1, 2, 0, 0, 3, 6, 0, 4}, layout);
    const Tensor gamma = values({2}, {2, 1}), beta = values({2}, {1, 0});
    Tensor rm = values({2}, {0, 0}), rv = values({2}, {1, 1});
    Tensor y = empty64({2, 2, 1, 2}, layout), mean = empty64({2}), invstd = empty64({2});
    be.batchnorm_fwd_train(d, x, gamma, beta, rm, rv, y, mean, invstd);
    check_values(mean, {3, 1});
    check_values(invstd, {1 / std::sqrt(3.5 + 1e-5), 1 / std::sqrt(3 + 1e-5)});
    check_values(rm, {0.3, 0.1});
    check_values(rv, {0.9 + 0.1 * 14.0 / 3, 0.9 + 0.1 * 4});
    // PyTorch 1.13, BatchNorm2d(2) in train mode with this weight and bias.
    check_values(
        y, {-1.1380868808917473, -0.06904344044587374, -0.5773493069415827, -0.5773493069415827,
            0.9999999999999998, 4.207130321337621, -0.5773493069415827, 1.7320479208247481});

    // Eval normalises with the running statistics; no affine means gamma 1, beta 0.
    Tensor ye = empty64({2, 2, 1, 2}, layout);
    be.batchnorm_fwd_eval(d, x, Tensor{}, Tensor{}, rm, rv, ye);
    const double s0 = 1 / std::sqrt(0.9 + 1.4 / 3 + 1e-5), s1 = 1 / std::sqrt(1.3 + 1e-5);
    check_values(
        ye, {0.7 * s0, 1.7 * s0, -0.1 * s1, -0.1 * s1, 2.7 * s0, 5.7 * s0, -0.1 * s1, 3.9 * s1});
  }
}

TEST_CASE("reference softmax cross-entropy with label smoothing", "[reference]") {
  ReferenceBackend be;
  // Row 0: p = (1/4, 1/2, 1/4), label 1, q = (0.1, 0.8, 0.1): loss 0.2 ln 4 + 0.8 ln 2 = 1.2 ln 2.
  // Row 1: uniform p, any q: loss ln 3.
  const Tensor logits = values({2, 3}, {0, std::log(2.0), 0, 0, 0, 0});
  Tensor labels = Tensor::empty({2}, DType::i64);
  labels.data<int64_t>()[0] = 1;
  labels.data<int64_t>()[1] = 0;
  Tensor loss = empty64({}), probs = empty64({2, 3});
  be.softmax_xent_fwd(0.3, logits, labels, loss, probs);
  CHECK(loss.data<double>()[0] == Approx((1.2 * std::log(2.0) + std::log(3.0)) / 2).epsilon(1e-14));
  CHECK(loss.data<double>()[0] == Approx(0.965194452670022).epsilon(1e-14));  // PyTorch 1.13
  check_values(probs, {0.25, 0.5, 0.25, 1.0 / 3, 1.0 / 3, 1.0 / 3});
  Tensor dloss = values({}, {2}), dlogits = empty64({2, 3});
  be.softmax_xent_bwd(0.3, probs, labels, dloss, dlogits);  // (p - q) * 2 / 2
  check_values(dlogits, {0.15, -0.3, 0.15, 1.0 / 3 - 0.8, 1.0 / 3 - 0.1, 1.0 / 3 - 0.1});

  labels.data<int64_t>()[1] = 3;
  try {
    be.softmax_xent_fwd(0.3, logits, labels, loss, probs);
    FAIL("a label outside [0, K) was accepted");
  } catch (const DataError& e) {
    CHECK_THAT(e.what(), Catch::Contains("label 3 in row 1"));
  }
}

TEST_CASE("reference sgd and adamw steps match torch.optim", "[reference][optim]") {
  ReferenceBackend be;
  Tensor p = values({1}, {1}), g = values({1}, {0.5}), buf = empty64({1});
  SgdDesc sgd{0.1, 0.9, 0, 0.01, true, false, true};  // momentum 0.9, nesterov, wd 0.01
  be.sgd_step(sgd, p, g, buf);
  check_values(p, {0.9031});
  sgd.first_step = false;
  be.sgd_step(sgd, p, g, buf);
  check_values(p, {0.76507411});  // PyTorch 1.13

  // Dampening applies from the second step on.
  p = values({1}, {1});
  SgdDesc damped{0.1, 0.9, 0.5, 0, false, false, true};
  be.sgd_step(damped, p, values({1}, {0.5}), buf);
  check_values(p, {0.95});
  damped.first_step = false;
  be.sgd_step(damped, p, values({1}, {-0.25}), buf);
  check_values(p, {0.9175});
  check_values(buf, {0.325});

  // SGDW without momentum: p (1 - lr wd) - lr g, and no buffer needed.
  p = values({1}, {1});
  Tensor no_buf;
  be.sgd_step({0.1, 0, 0, 0.01, false, true, true}, p, g, no_buf);
  check_values(p, {0.949});

  p = values({1}, {1});
  Tensor m = values({1}, {0}), v = values({1}, {0});
  AdamWDesc adam{0.1, 0.9, 0.999, 1e-8, 0.01, 1};
  be.adamw_step(adam, p, g, m, v);
  check_values(p, {0.899000002});
  adam.step = 2;
  be.adamw_step(adam, p, values({1}, {-0.25}), m, v);
  check_values(p, {0.8714672987058463});  // PyTorch 1.13
  check_values(m, {0.02});
  check_values(v, {0.00031225});
}

TEST_CASE("reference max pooling: first max wins, padding never does", "[reference]") {
  ReferenceBackend be;
  for (Layout layout : kLayouts) {
    INFO(test::layout_name(layout));
    // Ties: PyTorch 1.13 returns indices 1, 1, 3, 7.
    const Tensor x = values({1, 1, 3, 3}, {1, 3, 3, 3, 0, 2, -1, 3, 1}, layout);
    Tensor y = empty64({1, 1, 2, 2}, layout), ws;
    be.maxpool_fwd({2, 2, 1, 1, 0, 0, false, true}, x, y, ws);
    check_values(y, {3, 3, 3, 3});
    check_values(ws, {1, 1, 3, 7});
    // All negative with padding and ceil mode (PyTorch 1.13).
    std::vector<double> neg(16);
    for (int i = 0; i < 16; ++i) neg[i] = -(i + 1);
    const Tensor xn = values({1, 1, 4, 4}, neg, layout);
    Tensor yn = empty64({1, 1, 3, 3}, layout);
    const Pool2dDesc d{3, 3, 2, 2, 1, 1, true, true};
    be.maxpool_fwd(d, xn, yn, ws);
    check_values(yn, {-1, -2, -4, -5, -6, -8, -13, -14, -16});
    check_values(ws, {0, 1, 3, 4, 5, 7, 12, 13, 15});
    // The backward routes each dy to its argmax.
    Tensor dx = empty64({1, 1, 4, 4}, layout);
    be.maxpool_bwd(d, xn, values({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, layout), ws, dx);
    check_values(dx, {1, 2, 0, 3, 4, 5, 0, 6, 0, 0, 0, 0, 7, 8, 0, 9});
  }
}

TEST_CASE("reference average pooling divisors follow PyTorch", "[reference]") {
  ReferenceBackend be;
  for (Layout layout : kLayouts) {
    INFO(test::layout_name(layout));
    const Tensor ones = values({1, 1, 4, 4}, std::vector<double>(16, 1), layout);
    Tensor y = empty64({1, 1, 3, 3}, layout);
    // k3 s2 p1 ceil mode: the last window is clipped to the padded extent (PyTorch 1.13).
    be.avgpool_fwd({3, 3, 2, 2, 1, 1, true, true}, ones, y);
    check_values(y, {4.0 / 9, 6.0 / 9, 3.0 / 9, 6.0 / 9, 1, 0.5, 3.0 / 9, 0.5, 0.25});
    be.avgpool_fwd({3, 3, 2, 2, 1, 1, true, false}, ones, y);
    check_values(y, std::vector<double>(9, 1));
    std::vector<double> ramp(25);
    for (int i = 0; i < 25; ++i) ramp[i] = i;
    const Tensor x = values({1, 1, 5, 5}, ramp, layout);
    be.avgpool_fwd({2, 2, 2, 2, 1, 1, true, true}, x, y);
    check_values(y, {0, 0.75, 1.75, 3.75, 9, 11, 8.75, 19, 21});  // PyTorch 1.13
  }
}

TEST_CASE("reference dropout draws the shared counter-based mask", "[reference]") {
  ReferenceBackend be;
  const double p = 0.4;
  const uint64_t seed = 99;
  test::Rng rng(1);
  const Shape s{2, 3, 4, 5};
  const Tensor x = test::uniform(s, rng, Layout::nhwc);
  Tensor y = empty64(s, Layout::nhwc), mask;
  be.dropout_fwd(p, seed, x, y, mask);
  const std::vector<double> xs = flat(x), ys = flat(y), ms = flat(mask);
  int kept = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const bool keep = dropout_uniform(seed, i) >= p;  // logical row-major position, not memory
    kept += keep;
    CHECK(ms[i] == (keep ? 1 / (1 - p) : 0));
    CHECK(ys[i] == xs[i] * ms[i]);
  }
  CHECK(kept > 0);
  CHECK(kept < static_cast<int>(xs.size()));
}

TEST_CASE("reference elementwise ops, copy and reductions", "[reference]") {
  ReferenceBackend be;
  test::Rng rng(2);
  const Shape s{2, 3, 2, 2};
  const Tensor a = test::uniform(s, rng, Layout::nhwc), b = test::uniform(s, rng);
  Tensor y = empty64(s, Layout::nhwc);
  be.add_fwd(a, b, y);  // mixed layouts
  std::vector<double> expected = flat(a);
  const std::vector<double> fb = flat(b);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] += fb[i];
  check_values(y, expected);
  be.add_inplace(y, b);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] += fb[i];
  check_values(y, expected);
  be.scale_inplace(y, -2);
  for (double& e : expected) e *= -2;
  check_values(y, expected);
  double sq = 0;
  for (double e : expected) sq += e * e;
  CHECK(be.sum_squares(y) == Approx(sq).epsilon(1e-14));

  // copy: a layout change, then a flatten into a row-major [N, C*H*W] view (PyTorch order).
  Tensor flat_out = empty64({2, 12});
  Tensor view = flat_out.reshape(s);
  be.copy(a, view);
  check_values(flat_out, flat(a));
  Tensor labels = Tensor::empty({3}, DType::i64), labels2 = Tensor::empty({3}, DType::i64);
  be.fill(labels, 7);
  be.copy(labels, labels2);
  CHECK(labels2.data<int64_t>()[2] == 7);

  Tensor gate = values({2, 3}, {1, 2, 3, 4, 5, 6});
  be.mul_fwd(a, gate, y);
  const std::vector<double> fa = flat(a), fy = flat(y);
  for (size_t i = 0; i < fa.size(); ++i) CHECK(fy[i] == fa[i] * (1 + static_cast<double>(i / 4)));
  // The same scale as [N, C, 1, 1] (squeeze-excitation after a GlobalAveragePool), in nhwc.
  Tensor y4 = empty64(s);
  be.mul_fwd(a, values({2, 3, 1, 1}, {1, 2, 3, 4, 5, 6}, Layout::nhwc), y4);
  check_values(y4, fy, 0);
}

TEST_CASE("reference relu6, hardsigmoid, hardswish at and near their kinks follow PyTorch",
          "[reference]") {
  // Printed by PyTorch 1.13 (F.relu6, F.hardsigmoid, F.hardswish and autograd, f64), except
  // hardswish's gradient at x = 3: torch answers 1.5 from its scalar loop and CUDA kernel, 1 from
  // its vectorised loop; 1.5 is the formula's (2x + 3) / 6 (core/hard_activations.h).
  const std::vector<double> x{-8, -3.5, -3, -2.999, -1.5, 0, 1.5, 2.999, 3, 3.001, 5.999, 6, 6.001, 8};
  const double s = 1.0 / 6;
  const struct {
    const char* name;
    void (ReferenceBackend::*fwd)(const Tensor&, Tensor&);
    void (ReferenceBackend::*bwd)(const Tensor&, const Tensor&, Tensor&);
    std::vector<double> y, grad;
  } ops[] = {
      {"relu6", &ReferenceBackend::relu6_fwd, &ReferenceBackend::relu6_bwd,
       {0, 0, 0, 0, 0, 0, 1.5, 2.999, 3, 3.001, 5.999, 6, 6, 6},
       {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0}},
      {"hardsigmoid", &ReferenceBackend::hardsigmoid_fwd, &ReferenceBackend::hardsigmoid_bwd,
       {0, 0, 0, 0.0001666666666666483, 0.25, 0.5, 0.75, 0.9998333333333335, 1, 1, 1, 1, 1, 1},
       {0, 0, 0, s, s, s, s, s, 0, 0, 0, 0, 0, 0}},
      {"hardswish", &ReferenceBackend::hardswish_fwd, &ReferenceBackend::hardswish_bwd,
       {0, 0, 0, -0.0004998333333332783, -0.375, 0, 1.125, 2.9985001666666666, 3, 3.001, 5.999, 6,
        6.001, 8},
       {0, 0, -0.5, -0.4996666666666667, 0, 0.5, 1, 1.4996666666666667, 1.5, 1, 1, 1, 1, 1}},
  };
  ReferenceBackend be;
  const Shape shape{1, 2, 1, 7};
  for (const auto& op : ops)
    for (DType dtype : {DType::f64, DType::f32}) {
      INFO(op.name << (dtype == DType::f64 ? " f64" : " f32"));
      const double eps = dtype == DType::f64 ? 1e-12 : 1e-6;
      const Tensor in = values(shape, x, Layout::nhwc, dtype);
      const Tensor dy = values(shape, std::vector<double>(x.size(), 1.0), Layout::nchw, dtype);
      Tensor y = Tensor::empty(shape, dtype, Layout::nhwc), dx = Tensor::empty(shape, dtype);
      (be.*op.fwd)(in, y);
      (be.*op.bwd)(in, dy, dx);
      check_values(y, op.y, eps);
      check_values(dx, op.grad, eps);
    }
}

TEST_CASE("reference f32 agrees with f64", "[reference]") {
  ReferenceBackend be;
  test::Rng rng(4);
  const Shape xs{2, 4, 6, 6}, ws{6, 2, 3, 3}, ys{2, 6, 3, 3};
  const Conv2dDesc d{2, 2, 1, 1, 1, 1, 2};
  const Tensor x = test::uniform(xs, rng, Layout::nhwc), w = test::uniform(ws, rng);
  Tensor y64 = empty64(ys, Layout::nhwc), y32 = Tensor::empty(ys, DType::f32, Layout::nhwc);
  be.conv2d_fwd(d, x, w, Tensor{}, y64);
  be.conv2d_fwd(d, x.to(DType::f32), w.to(DType::f32), Tensor{}, y32);
  CHECK(max_rel_diff(y32, y64) < 1e-6);
  Tensor dx64 = empty64(xs), dx32 = Tensor::empty(xs, DType::f32);
  be.conv2d_bwd_data(d, y64, w, dx64);
  be.conv2d_bwd_data(d, y32, w.to(DType::f32), dx32);
  CHECK(max_rel_diff(dx32, dx64) < 1e-5);
}

TEST_CASE("reference backend rejects what it cannot compute", "[reference]") {
  ReferenceBackend be;
  CHECK(be.name() == "reference");
  CHECK(be.supports(DType::f64));
  CHECK_FALSE(be.supports(DType::i64));
  const Tensor xi = Tensor::zeros({1, 1, 3, 3}, DType::i64),
               wi = Tensor::zeros({1, 1, 1, 1}, DType::i64);
  Tensor yi = Tensor::zeros({1, 1, 3, 3}, DType::i64);
  CHECK_THROWS_WITH(be.conv2d_fwd({}, xi, wi, Tensor{}, yi), Catch::Contains("[conv2d_fwd]"));
  CHECK_THROWS_AS(be.conv2d_fwd({}, xi, wi, Tensor{}, yi), BackendError);
  // Mixed dtypes and wrong output shapes name the op too.
  const Tensor x = Tensor::zeros({1, 1, 3, 3}, DType::f64);
  Tensor y32 = Tensor::zeros({1, 1, 3, 3}, DType::f32),
         bad = Tensor::zeros({1, 1, 2, 3}, DType::f64);
  CHECK_THROWS_AS(be.relu_fwd(x, y32), BackendError);
  CHECK_THROWS_WITH(be.relu_fwd(x, bad), Catch::Contains("[relu_fwd]"));
  CHECK_THROWS_AS(be.conv2d_fwd({}, x, Tensor::zeros({1, 1, 2, 2}, DType::f64), Tensor{}, bad),
                  ShapeError);
}

}  // namespace
}  // namespace mt
