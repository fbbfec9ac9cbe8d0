// Every backward kernel of the reference backend against central differences of
// L = sum(r * y), in double, on nchw and nhwc tensors.
#include <catch2/catch.hpp>

#include "core/ops/conv2d.h"
#include "core/ops/pool2d.h"
#include "kernels/reference/reference_backend.h"
#include "tests/kernels/gradcheck.h"

namespace mt {
namespace {

using test::check_grad;
using test::dot;
using test::Rng;

const Layout kLayouts[] = {Layout::nchw, Layout::nhwc};

Tensor empty64(const Shape& s, Layout l = Layout::nchw) { return Tensor::empty(s, DType::f64, l); }

struct ConvCase {
  const char* name;
  Shape x, w;
  Conv2dDesc d;
  bool bias;
};

TEST_CASE("conv2d backward matches finite differences", "[reference][grad]") {
  ReferenceBackend be;
  const ConvCase cases[] = {
      {"3x3 stride 2 pad 1", {2, 3, 7, 7}, {4, 3, 3, 3}, {2, 2, 1, 1, 1, 1, 1}, true},
      {"3x2 groups 2 dilation 2, stride (1, 2), pad (2, 1)",
       {2, 4, 7, 6},
       {6, 2, 3, 2},
       {1, 2, 2, 1, 2, 2, 2},
       true},
      {"depthwise 3x3 stride 2, no bias", {2, 5, 5, 5}, {5, 1, 3, 3}, {2, 2, 1, 1, 1, 1, 5}, false},
      {"1x1 stride 2", {2, 3, 5, 5}, {4, 3, 1, 1}, {2, 2, 0, 0, 1, 1, 1}, true},
  };
  for (const ConvCase& c : cases)
    for (Layout layout : kLayouts) {
      INFO(c.name << ", " << test::layout_name(layout));
      Rng rng(7);
      Tensor x = test::uniform(c.x, rng, layout), w = test::uniform(c.w, rng, layout);
      Tensor b = c.bias ? test::uniform({c.w[0]}, rng) : Tensor{};
      const Shape ys{c.x[0], c.w[0],
                     conv_out_size(c.x[2], c.w[2], c.d.stride_h, c.d.pad_h, c.d.dilation_h),
                     conv_out_size(c.x[3], c.w[3], c.d.stride_w, c.d.pad_w, c.d.dilation_w)};
      Tensor y = empty64(ys, layout);
      const Tensor r = test::uniform(ys, rng, layout);
      auto loss = [&] {
        be.conv2d_fwd(c.d, x, w, b, y);
        return dot(r, y);
      };
      Tensor dx = empty64(c.x, layout), dw = empty64(c.w, layout);
      Tensor db = c.bias ? empty64({c.w[0]}) : Tensor{};
      be.conv2d_bwd_data(c.d, r, w, dx);
      be.conv2d_bwd_weights(c.d, x, r, dw, db);
      check_grad("dx", dx, x, loss);
      check_grad("dw", dw, w, loss);
      if (c.bias) check_grad("db", db, b, loss);
    }
}

TEST_CASE("batchnorm backward matches finite differences", "[reference][grad]") {
  ReferenceBackend be;
  const BatchNormDesc d{1e-5, 0.1};
  for (Layout layout : kLayouts)
    for (bool affine : {true, false}) {
      INFO(test::layout_name(layout) << (affine ? ", affine" : ", no affine"));
      Rng rng(11);
      const Shape xs{2, 3, 5, 5}, cs{3};
      Tensor x = test::uniform(xs, rng, layout, -2, 3);
      Tensor gamma = affine ? test::uniform(cs, rng, Layout::nchw, 0.5, 1.5) : Tensor{};
      Tensor beta = affine ? test::uniform(cs, rng) : Tensor{};
      Tensor rm = Tensor::zeros(cs, DType::f64), rv = Tensor::zeros(cs, DType::f64);
      Tensor mean = empty64(cs), invstd = empty64(cs), y = empty64(xs, layout);
      const Tensor r = test::uniform(xs, rng, layout);
      auto loss = [&] {
        be.batchnorm_fwd_train(d, x, gamma, beta, rm, rv, y, mean, invstd);
        return dot(r, y);
      };
      loss();
      Tensor dx = empty64(xs, layout);
      Tensor dgamma = affine ? empty64(cs) : Tensor{}, dbeta = affine ? empty64(cs) : Tensor{};
      be.batchnorm_bwd(d, x, r, gamma, mean, invstd, dx, dgamma, dbeta);
      check_grad("dx", dx, x, loss);
      if (!affine) continue;
      check_grad("dgamma", dgamma, gamma, loss);
      check_grad("dbeta", dbeta, beta, loss);
      // Parameter gradients alone (dx undefined) are the same numbers.
      Tensor no_dx, dgamma2 = empty64(cs), dbeta2 = empty64(cs);
      be.batchnorm_bwd(d, x, r, gamma, mean, invstd, no_dx, dgamma2, dbeta2);
      CHECK(max_rel_diff(dgamma2, dgamma) == 0);
      CHECK(max_rel_diff(dbeta2, dbeta) == 0);
    }
}

TEST_CASE("relu and sigmoid backward match finite differences", "[reference][grad]") {
  ReferenceBackend be;
  for (Layout layout : kLayouts) {
    INFO(test::layout_name(layout));
    Rng rng(3);
    const Shape s{2, 3, 5, 5};
    Tensor x = test::off_zero(s, rng, layout), y = empty64(s, layout), dx = empty64(s, layout);
    const Tensor r = test::uniform(s, rng, layout);
    auto relu = [&] {
      be.relu_fwd(x, y);
      return dot(r, y);
    };
    relu();
    be.relu_bwd(y, r, dx);
    check_grad("relu dx", dx, x, relu);
    auto sigmoid = [&] {
      be.sigmoid_fwd(x, y);
      return dot(r, y);
    };
    sigmoid();
    be.sigmoid_bwd(y, r, dx);
    check_grad("sigmoid dx", dx, x, sigmoid);
  }
}

// Uniform in [-8, 8) but at least 0.01 from every kink (-3, 0, 3, 6): central differences with
// eps 1e-6 see one linear piece, and the [-8, 8) range covers every piece.
Tensor off_kinks(const Shape& s, Rng& rng, Layout layout) {
  Tensor t = test::uniform(s, rng, layout, -8, 8);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i)
    for (double kink : {-3.0, 0.0, 3.0, 6.0})
      if (std::abs(p[i] - kink) < 0.01) p[i] = kink + (p[i] < kink ? -0.01 : 0.01);
  return t;
}

TEST_CASE("relu6, hardsigmoid and hardswish backward match finite differences", "[reference][grad]") {
  ReferenceBackend be;
  using Fwd = void (ReferenceBackend::*)(const Tensor&, Tensor&);
  using Bwd = void (ReferenceBackend::*)(const Tensor&, const Tensor&, Tensor&);
  const struct {
    const char* name;
    Fwd fwd;
    Bwd bwd;
  } ops[] = {{"relu6", &ReferenceBackend::relu6_fwd, &ReferenceBackend::relu6_bwd},
             {"hardsigmoid", &ReferenceBackend::hardsigmoid_fwd, &ReferenceBackend::hardsigmoid_bwd},
             {"hardswish", &ReferenceBackend::hardswish_fwd, &ReferenceBackend::hardswish_bwd}};
  for (const auto& op : ops)
    for (Layout layout : kLayouts) {
      INFO(op.name << ", " << test::layout_name(layout));
      Rng rng(17);
      const Shape s{2, 3, 5, 7};
      Tensor x = off_kinks(s, rng, layout), y = empty64(s, layout), dx = empty64(s, layout);
      const Tensor r = test::uniform(s, rng, layout);
      auto loss = [&] {
        (be.*op.fwd)(x, y);
        return dot(r, y);
      };
      (be.*op.bwd)(x, r, dx);
      check_grad(std::string(op.name) + " dx", dx, x, loss);
    }
}

TEST_CASE("mul backward matches finite differences for every broadcast", "[reference][grad]") {
  ReferenceBackend be;
  const Shape as{2, 3, 5, 5};
  // [2, 3, 1, 1]: squeeze-excitation as ONNX writes it, db in b's own shape.
  const Shape b_shapes[] = {as, Shape{3}, Shape{2, 3}, Shape{2, 3, 1, 1}};
  for (const Shape& bs : b_shapes)
    for (Layout layout : kLayouts) {
      INFO("b " << bs.str() << ", " << test::layout_name(layout));
      Rng rng(5);
      Tensor a = test::uniform(as, rng, layout);
      Tensor b = test::uniform(bs, rng, bs.rank() == 4 ? layout : Layout::nchw);
      Tensor y = empty64(as, layout);
      const Tensor r = test::uniform(as, rng, layout);
      auto loss = [&] {
        be.mul_fwd(a, b, y);
        return dot(r, y);
      };
      Tensor da = empty64(as, layout), db = empty64(bs, b.layout());
      be.mul_bwd(a, b, r, da, db);
      check_grad("da", da, a, loss);
      check_grad("db", db, b, loss);
    }
}

TEST_CASE("max pooling backward matches finite differences", "[reference][grad]") {
  ReferenceBackend be;
  struct Case {
    Shape x;
    Pool2dDesc d;
  };
  const Case cases[] = {
      {{2, 3, 7, 7}, {3, 3, 2, 2, 1, 1, false, true}},
      {{2, 3, 7, 7}, {2, 2, 2, 2, 0, 0, true, true}},  // ceil mode: a partial last window
      {{2, 3, 6, 5}, {3, 2, 2, 1, 1, 1, true, true}},  // asymmetric, overlapping, ceil mode
  };
  for (const Case& c : cases)
    for (Layout layout : kLayouts) {
      INFO("x " << c.x.str() << " k " << c.d.kernel_h << "x" << c.d.kernel_w << " ceil "
                << c.d.ceil_mode << ", " << test::layout_name(layout));
      Rng rng(13);
      Tensor x = test::distinct(c.x, rng, layout);
      const Shape ys = pool_output_shape("maxpool2d", c.d, c.x);
      Tensor y = empty64(ys, layout), workspace;
      const Tensor r = test::uniform(ys, rng, layout);
      auto loss = [&] {
        be.maxpool_fwd(c.d, x, y, workspace);
        return dot(r, y);
      };
      loss();
      Tensor dx = empty64(c.x, layout);
      be.maxpool_bwd(c.d, x, r, workspace, dx);
      check_grad("dx", dx, x, loss);
    }
}

TEST_CASE("average pooling backward matches finite differences", "[reference][grad]") {
  ReferenceBackend be;
  for (bool include_pad : {true, false})
    for (bool ceil_mode : {false, true})
      for (Layout layout : kLayouts) {
        INFO("count_include_pad " << include_pad << " ceil " << ceil_mode << ", "
                                  << test::layout_name(layout));
        const Pool2dDesc d{3, 3, 2, 2, 1, 1, ceil_mode, include_pad};
        const Shape xs{2, 3, 6, 7};
        Rng rng(17);
        Tensor x = test::uniform(xs, rng, layout);
        const Shape ys = pool_output_shape("avgpool2d", d, xs);
        Tensor y = empty64(ys, layout);
        const Tensor r = test::uniform(ys, rng, layout);
        auto loss = [&] {
          be.avgpool_fwd(d, x, y);
          return dot(r, y);
        };
        Tensor dx = empty64(xs, layout);
        be.avgpool_bwd(d, r, dx);
        check_grad("dx", dx, x, loss);
      }
}

TEST_CASE("global average pooling backward matches finite differences", "[reference][grad]") {
  ReferenceBackend be;
  for (Layout layout : kLayouts) {
    INFO(test::layout_name(layout));
    Rng rng(19);
    const Shape xs{2, 5, 5, 3};
    Tensor x = test::uniform(xs, rng, layout), y = empty64({2, 5});
    const Tensor r = test::uniform({2, 5}, rng);
    auto loss = [&] {
      be.global_avgpool_fwd(x, y);
      return dot(r, y);
    };
    Tensor dx = empty64(xs, layout);
    be.global_avgpool_bwd(r, dx);
    check_grad("dx", dx, x, loss);
  }
}

TEST_CASE("linear backward matches finite differences", "[reference][grad]") {
  ReferenceBackend be;
  for (bool bias : {true, false}) {
    INFO("bias " << bias);
    Rng rng(23);
    Tensor x = test::uniform({3, 7}, rng), w = test::uniform({4, 7}, rng);
    Tensor b = bias ? test::uniform({4}, rng) : Tensor{};
    Tensor y = empty64({3, 4});
    const Tensor r = test::uniform({3, 4}, rng);
    auto loss = [&] {
      be.linear_fwd(x, w, b, y);
      return dot(r, y);
    };
    Tensor dx = empty64({3, 7}), dw = empty64({4, 7}), db = bias ? empty64({4}) : Tensor{};
    be.linear_bwd_data(r, w, dx);
    be.linear_bwd_weights(x, r, dw, db);
    check_grad("dx", dx, x, loss);
    check_grad("dw", dw, w, loss);
    if (bias) check_grad("db", db, b, loss);
  }
}

TEST_CASE("concat backward matches finite differences", "[reference][grad]") {
  ReferenceBackend be;
  for (Layout layout : kLayouts) {
    INFO(test::layout_name(layout));
    Rng rng(29);
    const Shape s0{2, 2, 5, 5}, s1{2, 3, 5, 5}, s2{2, 1, 5, 5}, ys{2, 6, 5, 5};
    Tensor x0 = test::uniform(s0, rng, layout), x1 = test::uniform(s1, rng, Layout::nchw);
    Tensor x2 = test::uniform(s2, rng, layout), y = empty64(ys, layout);
    const Tensor r = test::uniform(ys, rng, layout);
    auto loss = [&] {
      be.concat_fwd({&x0, &x1, &x2}, y);
      return dot(r, y);
    };
    Tensor d0 = empty64(s0, layout), d1 = empty64(s1, layout), d2 = empty64(s2, Layout::nchw);
    be.concat_bwd(r, {2, 3, 1}, {&d0, &d1, &d2});
    check_grad("dx0", d0, x0, loss);
    check_grad("dx1", d1, x1, loss);
    check_grad("dx2", d2, x2, loss);
    // A part that needs no gradient (null) keeps its place: the parts after it are unchanged.
    Tensor e0 = empty64(s0, layout), e2 = empty64(s2, layout);
    be.concat_bwd(r, {2, 3, 1}, {&e0, nullptr, &e2});
    CHECK(max_rel_diff(e0, d0) == 0);
    CHECK(max_rel_diff(e2, d2) == 0);
  }
}

TEST_CASE("channel pad backward matches finite differences", "[reference][grad]") {
  ReferenceBackend be;
  const ChannelPadDesc descs[] = {{2, 1, 2}, {1, 3, 1}};
  for (const ChannelPadDesc& d : descs)
    for (Layout layout : kLayouts) {
      INFO("stride " << d.stride << ", " << test::layout_name(layout));
      Rng rng(31);
      const Shape xs{2, 3, 7, 7};
      const int64_t oh = (7 + d.stride - 1) / d.stride;
      const Shape ys{2, 3 + d.pad_before + d.pad_after, oh, oh};
      Tensor x = test::uniform(xs, rng, layout), y = empty64(ys, layout);
      const Tensor r = test::uniform(ys, rng, layout);
      auto loss = [&] {
        be.channel_pad_fwd(d, x, y);
        return dot(r, y);
      };
      Tensor dx = empty64(xs, layout);
      be.channel_pad_bwd(d, r, dx);
      check_grad("dx", dx, x, loss);
    }
}

TEST_CASE("dropout backward matches finite differences for a fixed seed", "[reference][grad]") {
  ReferenceBackend be;
  for (Layout layout : kLayouts) {
    INFO(test::layout_name(layout));
    Rng rng(37);
    const Shape s{2, 3, 5, 5};
    Tensor x = test::uniform(s, rng, layout), y = empty64(s, layout), mask;
    const Tensor r = test::uniform(s, rng, layout);
    auto loss = [&] {
      be.dropout_fwd(0.3, 1234, x, y, mask);
      return dot(r, y);
    };
    loss();
    Tensor dx = empty64(s, layout);
    be.dropout_bwd(0.3, mask, r, dx);
    check_grad("dx", dx, x, loss);
  }
}

TEST_CASE("softmax cross-entropy backward matches finite differences", "[reference][grad]") {
  ReferenceBackend be;
  for (double smoothing : {0.0, 0.1}) {
    INFO("label smoothing " << smoothing);
    Rng rng(41);
    Tensor logits = test::uniform({4, 5}, rng, Layout::nchw, -3, 3);
    Tensor labels = Tensor::empty({4}, DType::i64);
    const int64_t label_values[] = {0, 4, 2, 2};
    std::copy(std::begin(label_values), std::end(label_values), labels.data<int64_t>());
    Tensor loss_t = empty64({}), probs = empty64({4, 5});
    const double r = 0.7;  // the upstream gradient of the scalar loss
    auto loss = [&] {
      be.softmax_xent_fwd(smoothing, logits, labels, loss_t, probs);
      return r * loss_t.data<double>()[0];
    };
    loss();
    Tensor dloss = empty64({}), dlogits = empty64({4, 5});
    dloss.fill(r);
    be.softmax_xent_bwd(smoothing, probs, labels, dloss, dlogits);
    check_grad("dlogits", dlogits, logits, loss);
  }
}

}  // namespace
}  // namespace mt

namespace mt {
namespace {

TEST_CASE("the finite-difference check itself rejects a wrong gradient", "[grad]") {
  test::Rng rng(43);
  Tensor x = test::uniform({2, 3, 4, 5}, rng, Layout::nhwc);
  const Tensor r = test::uniform({2, 3, 4, 5}, rng);
  auto loss = [&] { return test::dot(r, x); };  // d loss / dx = r
  const Tensor numeric = test::numeric_grad(x, loss);
  CHECK(max_rel_diff(numeric, r) < test::kGradTol);
  Tensor off = r.clone();
  off.data<double>()[7] *= 1.001;  // one element 0.1% off fails the tolerance
  CHECK(max_rel_diff(off, numeric) > test::kGradTol);
}

}  // namespace
}  // namespace mt
