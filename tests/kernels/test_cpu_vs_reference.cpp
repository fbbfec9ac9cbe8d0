// Backend equivalence (ggml's test-backend-ops): one table of op cases runs on the oneDNN CPU
// backend in f32 and on the reference backend in f64 over the same data (rounded to f32 first),
// and every output, forward and backward, must agree within 1e-4 (norm-relative). Activations
// run in both nhwc (oneDNN's fast path) and nchw.
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"
#include "tests/kernels/gradcheck.h"

namespace mt {
namespace {

using test::distinct;
using test::off_zero;
using test::uniform;
using Outputs = std::vector<std::pair<std::string, Tensor>>;
using Inputs = std::vector<Tensor>;

constexpr double kTol = 1e-4;

struct Case {
  std::string name;
  bool both_layouts;                                    // rank-4 activations: run nhwc and nchw
  std::function<Inputs(test::Rng&, Layout)> inputs;     // f64 (labels i64)
  std::function<Outputs(KernelBackend&, Inputs&)> run;  // inputs already in the dtype
};

// An output tensor of `shape` in x's dtype, in x's layout when it is rank 4.
Tensor like(const Tensor& x, const Shape& shape) {
  const Layout l = shape.rank() == 4 ? x.layout() : Layout::nchw;
  return Tensor::zeros(shape, x.dtype(), l);
}

Tensor labels(const std::vector<int64_t>& values) {
  Tensor t = Tensor::empty(Shape{static_cast<int64_t>(values.size())}, DType::i64);
  for (size_t i = 0; i < values.size(); ++i) t.data<int64_t>()[i] = values[i];
  return t;
}

Case conv_case(std::string name, Shape x, Shape w, Conv2dDesc d, bool bias) {
  auto inputs = [=](test::Rng& rng, Layout l) {
    const Shape y{x[0], w[0], (x[2] + 2 * d.pad_h - d.dilation_h * (w[2] - 1) - 1) / d.stride_h + 1,
                  (x[3] + 2 * d.pad_w - d.dilation_w * (w[3] - 1) - 1) / d.stride_w + 1};
    return Inputs{uniform(x, rng, l), uniform(w, rng), bias ? uniform({w[0]}, rng) : Tensor(),
                  uniform(y, rng, l)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &xx = in[0], &ww = in[1], &b = in[2], &dy = in[3];
    Tensor y = like(xx, dy.shape()), dx = like(xx, xx.shape()), dw = like(ww, ww.shape());
    Tensor db = bias ? like(ww, b.shape()) : Tensor();
    be.conv2d_fwd(d, xx, ww, b, y);
    be.conv2d_bwd_data(d, dy, ww, dx);
    be.conv2d_bwd_weights(d, xx, dy, dw, db);
    Outputs out{{"y", y}, {"dx", dx}, {"dw", dw}};
    if (bias) out.emplace_back("db", db);
    return out;
  };
  return {std::move(name), true, inputs, run};
}

Case batchnorm_case(std::string name, Shape x, bool affine) {
  auto inputs = [=](test::Rng& rng, Layout l) {
    const Shape c{x[1]};
    return Inputs{uniform(x, rng, l, 1, 3),  // off-centre, so the mean matters
                  affine ? uniform(c, rng, Layout::nchw, 0.5, 1.5) : Tensor(),
                  affine ? uniform(c, rng) : Tensor(),
                  uniform(c, rng),
                  uniform(c, rng, Layout::nchw, 0.5, 2),
                  uniform(x, rng, l)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &xx = in[0], &gamma = in[1], &beta = in[2], &dy = in[5];
    Tensor rm = in[3].clone(), rv = in[4].clone();
    const Shape c{x[1]};
    Tensor y = like(xx, x), mean = like(xx, c), invstd = like(xx, c), y_eval = like(xx, x);
    Tensor dx = like(xx, x), dgamma = affine ? like(xx, c) : Tensor();
    Tensor dbeta = affine ? like(xx, c) : Tensor();
    const BatchNormDesc d{1e-5, 0.1};
    be.batchnorm_fwd_eval(d, xx, gamma, beta, rm, rv, y_eval);
    be.batchnorm_fwd_train(d, xx, gamma, beta, rm, rv, y, mean, invstd);
    be.batchnorm_bwd(d, xx, dy, gamma, mean, invstd, dx, dgamma, dbeta);
    Outputs out{{"y_eval", y_eval},
                {"y", y},
                {"save_mean", mean},
                {"save_invstd", invstd},
                {"running_mean", rm},
                {"running_var", rv},
                {"dx", dx}};
    if (affine) out.insert(out.end(), {{"dgamma", dgamma}, {"dbeta", dbeta}});
    return out;
  };
  return {std::move(name), true, inputs, run};
}

Case pool_case(std::string name, Shape x, Pool2dDesc d, bool max) {
  auto out_size = [](int64_t in, int k, int s, int p, bool ceil) {
    const int64_t span = in + 2 * p - k;
    int64_t out = (ceil ? (span + s - 1) / s : span / s) + 1;
    if (ceil && (out - 1) * s >= in + p) --out;
    return out;
  };
  const Shape y{x[0], x[1], out_size(x[2], d.kernel_h, d.stride_h, d.pad_h, d.ceil_mode),
                out_size(x[3], d.kernel_w, d.stride_w, d.pad_w, d.ceil_mode)};
  auto inputs = [=](test::Rng& rng, Layout l) {
    return Inputs{distinct(x, rng, l), uniform(y, rng, l)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    Tensor yy = like(in[0], y), dx = like(in[0], x), ws;
    if (max) {
      be.maxpool_fwd(d, in[0], yy, ws);
      be.maxpool_bwd(d, in[0], in[1], ws, dx);
    } else {
      be.avgpool_fwd(d, in[0], yy);
      be.avgpool_bwd(d, in[1], dx);
    }
    return Outputs{{"y", yy}, {"dx", dx}};
  };
  return {std::move(name), true, inputs, run};
}

Pool2dDesc pool(int k, int s, int p, bool ceil, bool include_pad = true) {
  return {k, k, s, s, p, p, ceil, include_pad};
}

std::vector<Case> conv_and_norm_cases() {
  std::vector<Case> cases;
  cases.push_back(conv_case("conv 3->5 7x7 k3 p1 bias", {2, 3, 7, 7}, {5, 3, 3, 3},
                            {1, 1, 1, 1, 1, 1, 1}, true));
  cases.push_back(conv_case("conv 17->16 9x9 k3 s2 p1", {2, 17, 9, 9}, {16, 17, 3, 3},
                            {2, 2, 1, 1, 1, 1, 1}, false));
  cases.push_back(conv_case("conv groups 3, dilation 2", {2, 6, 9, 8}, {9, 2, 3, 3},
                            {1, 1, 2, 2, 2, 2, 3}, true));
  cases.push_back(conv_case("conv depthwise 17 s2 7x7", {3, 17, 7, 7}, {17, 1, 3, 3},
                            {2, 2, 1, 1, 1, 1, 17}, false));
  cases.push_back(
      conv_case("conv 5->3 on 1x1", {4, 5, 1, 1}, {3, 5, 1, 1}, {1, 1, 0, 0, 1, 1, 1}, true));
  cases.push_back(conv_case("conv 1x1 s2 16->32 on 7x7", {2, 16, 7, 7}, {32, 16, 1, 1},
                            {2, 2, 0, 0, 1, 1, 1}, false));
  cases.push_back(conv_case("conv 5x5 p2 on 8x6, 3->4", {2, 3, 8, 6}, {4, 3, 5, 5},
                            {1, 1, 2, 2, 1, 1, 1}, true));
  cases.push_back(conv_case("conv 16->16 16x16 k3 p1 batch 4", {4, 16, 16, 16}, {16, 16, 3, 3},
                            {1, 1, 1, 1, 1, 1, 1}, false));
  cases.push_back(batchnorm_case("batchnorm C=3 7x7", {4, 3, 7, 7}, true));
  cases.push_back(batchnorm_case("batchnorm C=17 1x1", {8, 17, 1, 1}, true));
  cases.push_back(batchnorm_case("batchnorm C=16 5x5", {2, 16, 5, 5}, true));
  cases.push_back(batchnorm_case("batchnorm C=5 no affine", {3, 5, 4, 3}, false));
  cases.push_back(batchnorm_case("batchnorm C=17 16x16 batch 8 (threads)", {8, 17, 16, 16}, true));
  cases.push_back(pool_case("maxpool k3 s2 p1 on 7x7", {2, 5, 7, 7}, pool(3, 2, 1, false), true));
  cases.push_back(pool_case("maxpool k2 s2 ceil on 7x7", {2, 17, 7, 7}, pool(2, 2, 0, true), true));
  cases.push_back(
      pool_case("maxpool k3 s2 p1 ceil on 8x8", {1, 3, 8, 8}, pool(3, 2, 1, true), true));
  cases.push_back(
      pool_case("avgpool k3 s2 p1 incl pad on 7x7", {2, 5, 7, 7}, pool(3, 2, 1, false), false));
  cases.push_back(pool_case("avgpool k3 s2 p1 excl pad on 7x7", {2, 5, 7, 7},
                            pool(3, 2, 1, false, false), false));
  cases.push_back(
      pool_case("avgpool k3 s2 p1 ceil incl pad on 6x6", {2, 3, 6, 6}, pool(3, 2, 1, true), false));
  cases.push_back(pool_case("avgpool k2 s2 ceil excl pad on 7x7", {2, 17, 7, 7},
                            pool(2, 2, 0, true, false), false));
  return cases;
}

Case elementwise_case() {
  const Shape x{2, 17, 5, 3};
  auto inputs = [=](test::Rng& rng, Layout l) {
    return Inputs{off_zero(x, rng, l), uniform(x, rng, l),    uniform(x, rng, l),
                  uniform({17}, rng),  uniform({2, 17}, rng), uniform({4, 16, 32, 32}, rng, l)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &a = in[0], &b = in[1], &dy = in[2], &c = in[3], &nc = in[4];
    Tensor relu = like(a, x), drelu = like(a, x), sig = like(a, x), dsig = like(a, x);
    Tensor sum = like(a, x), prod = like(a, x), da = like(a, x), db = like(a, x);
    Tensor pc = like(a, x), dpc = like(a, x), dc = like(c, c.shape());
    Tensor pnc = like(a, x), dpnc = like(a, x), dnc = like(nc, nc.shape());
    be.relu_fwd(a, relu);
    be.relu_bwd(relu, dy, drelu);
    be.sigmoid_fwd(a, sig);
    be.sigmoid_bwd(sig, dy, dsig);
    be.add_fwd(a, b, sum);
    be.add_inplace(sum, dy);
    be.mul_fwd(a, b, prod);
    be.mul_bwd(a, b, dy, da, db);
    be.mul_fwd(a, c, pc);
    be.mul_bwd(a, c, dy, dpc, dc);
    be.mul_fwd(a, nc, pnc);
    be.mul_bwd(a, nc, dy, dpnc, dnc);
    // Large enough for the threaded paths.
    Tensor big = like(in[5], in[5].shape()), big_sum = like(in[5], in[5].shape());
    be.relu_fwd(in[5], big);
    be.add_fwd(in[5], big, big_sum);
    be.add_inplace(big_sum, in[5]);
    Tensor norm = Tensor::zeros({}, a.dtype());
    if (norm.dtype() == DType::f32)
      norm.data<float>()[0] = static_cast<float>(be.sum_squares(big_sum));
    else
      norm.data<double>()[0] = be.sum_squares(big_sum);
    return Outputs{{"relu big", big},      {"add big", big_sum}, {"sum_squares big", norm},
                   {"relu", relu},         {"drelu", drelu},     {"sigmoid", sig},
                   {"dsigmoid", dsig},     {"add+inplace", sum}, {"mul", prod},
                   {"mul da", da},         {"mul db", db},       {"mul [C]", pc},
                   {"mul [C] da", dpc},    {"mul [C] db", dc},   {"mul [N,C]", pnc},
                   {"mul [N,C] da", dpnc}, {"mul [N,C] db", dnc}};
  };
  return {"elementwise relu sigmoid add mul", true, inputs, run};
}

Case shape_ops_case() {
  const Shape a{2, 3, 7, 7}, b{2, 17, 7, 7}, cat{2, 20, 7, 7};
  const ChannelPadDesc pad2{3, 4, 2}, pad1{1, 0, 1};
  auto inputs = [=](test::Rng& rng, Layout l) {
    return Inputs{uniform(a, rng, l),
                  uniform(b, rng, l),
                  uniform(cat, rng, l),
                  uniform({2, 10, 4, 4}, rng, l),
                  uniform({2, 4, 7, 7}, rng, l),
                  uniform({2, 17, 1, 1}, rng, l),
                  uniform({2, 17}, rng)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    Tensor y = like(in[0], cat), dxa = like(in[0], a), dxb = like(in[0], b);
    be.concat_fwd({&in[0], &in[1]}, y);
    be.concat_bwd(in[2], {a[1], b[1]}, {&dxa, &dxb});
    Tensor p2 = like(in[0], {2, 10, 4, 4}), dp2 = like(in[0], a);
    Tensor p1 = like(in[0], {2, 4, 7, 7}), dp1 = like(in[0], a);
    be.channel_pad_fwd(pad2, in[0], p2);
    be.channel_pad_bwd(pad2, in[3], dp2);
    be.channel_pad_fwd(pad1, in[0], p1);
    be.channel_pad_bwd(pad1, in[4], dp1);
    Tensor g1 = like(in[6], {2, 17}), dg1 = like(in[0], {2, 17, 1, 1});
    Tensor g7 = like(in[6], {2, 17}), dg7 = like(in[0], b);
    be.global_avgpool_fwd(in[5], g1);
    be.global_avgpool_bwd(in[6], dg1);
    be.global_avgpool_fwd(in[1], g7);
    be.global_avgpool_bwd(in[6], dg7);
    Tensor drop = like(in[0], b), ddrop = like(in[0], b), mask;
    be.dropout_fwd(0.3, 1234, in[1], drop, mask);
    be.dropout_bwd(0.3, mask, in[1], ddrop);
    Tensor nchw = Tensor::zeros(b, in[1].dtype(), Layout::nchw);
    Tensor nhwc = Tensor::zeros(b, in[1].dtype(), Layout::nhwc);
    be.copy(in[1], nchw);
    be.copy(nchw, nhwc);
    return Outputs{{"concat", y},          {"concat da", dxa},     {"concat db", dxb},
                   {"pad s2", p2},         {"pad s2 bwd", dp2},    {"pad s1", p1},
                   {"pad s1 bwd", dp1},    {"gap 1x1", g1},        {"gap 1x1 bwd", dg1},
                   {"gap 7x7", g7},        {"gap 7x7 bwd", dg7},   {"dropout", drop},
                   {"dropout bwd", ddrop}, {"copy to nchw", nchw}, {"copy to nhwc", nhwc}};
  };
  return {"concat channel_pad global_avgpool dropout copy", true, inputs, run};
}

Case dense_case(double smoothing) {
  auto inputs = [](test::Rng& rng, Layout) {
    return Inputs{uniform({5, 17}, rng),
                  uniform({3, 17}, rng),
                  uniform({3}, rng),
                  uniform({5, 3}, rng),
                  uniform({6, 10}, rng, Layout::nchw, -4, 4),
                  labels({0, 9, 3, 3, 7, 1}),
                  uniform({}, rng, Layout::nchw, 0.5, 1)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &x = in[0], &w = in[1], &b = in[2], &dy = in[3];
    Tensor y = like(x, {5, 3}), dx = like(x, x.shape()), dw = like(x, w.shape()), db = like(x, {3});
    be.linear_fwd(x, w, b, y);
    be.linear_bwd_data(dy, w, dx);
    be.linear_bwd_weights(x, dy, dw, db);
    Tensor loss = like(x, {}), probs = like(x, {6, 10}), dlogits = like(x, {6, 10});
    be.softmax_xent_fwd(smoothing, in[4], in[5], loss, probs);
    be.softmax_xent_bwd(smoothing, probs, in[5], in[6], dlogits);
    return Outputs{{"linear y", y},          {"linear dx", dx},   {"linear dw", dw},
                   {"linear db", db},        {"xent loss", loss}, {"xent probs", probs},
                   {"xent dlogits", dlogits}};
  };
  return {"linear and softmax xent, smoothing " + std::to_string(smoothing), false, inputs, run};
}

Case optimizer_case() {
  const Shape p{17, 5, 3, 3};
  auto inputs = [=](test::Rng& rng, Layout) {
    return Inputs{uniform(p, rng), uniform(p, rng), uniform(p, rng),
                  uniform(p, rng, Layout::nchw, 0, 1)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    Tensor sgd = in[0].clone(), sgdw = in[0].clone(), buf = in[2].clone(), buf0 = in[2].clone();
    be.sgd_step({0.1, 0.9, 0.1, 5e-4, true, false, false}, sgd, in[1], buf);
    be.sgd_step({0.05, 0.9, 0, 1e-2, false, true, true}, sgdw, in[1], buf0);
    Tensor adam = in[0].clone(), m = in[2].clone(), v = in[3].clone();
    be.adamw_step({1e-2, 0.9, 0.999, 1e-8, 1e-2, 3}, adam, in[1], m, v);
    Tensor scaled = in[1].clone(), filled = in[1].clone();
    be.scale_inplace(scaled, -0.25);
    be.fill(filled, 0.5);
    Tensor norm = Tensor::zeros({}, in[0].dtype());
    if (norm.dtype() == DType::f32)
      norm.data<float>()[0] = static_cast<float>(be.sum_squares(in[1]));
    else
      norm.data<double>()[0] = be.sum_squares(in[1]);
    return Outputs{{"sgd nesterov", sgd},   {"sgd momentum", buf}, {"sgdw first step", sgdw},
                   {"sgdw momentum", buf0}, {"adamw p", adam},     {"adamw m", m},
                   {"adamw v", v},          {"scale", scaled},     {"fill", filled},
                   {"sum_squares", norm}};
  };
  return {"sgd adamw and helpers", false, inputs, run};
}

// Outputs in the other layout than the inputs (and one input of each): every op must still agree.
Case mixed_layout_case() {
  const Shape x{2, 16, 9, 9}, w{8, 16, 3, 3}, y{2, 8, 9, 9}, p{2, 8, 5, 5};
  const Conv2dDesc conv{1, 1, 1, 1, 1, 1, 1};
  const Pool2dDesc pool2{3, 3, 2, 2, 1, 1, false, true};
  auto inputs = [=](test::Rng& rng, Layout l) {
    const Layout other = l == Layout::nhwc ? Layout::nchw : Layout::nhwc;
    return Inputs{uniform(x, rng, l),  uniform(w, rng),        uniform(y, rng, other),
                  distinct(y, rng, l), uniform(p, rng, other), uniform({8}, rng),
                  uniform(y, rng, l)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    auto other = [](const Tensor& t, const Shape& s) {
      return Tensor::zeros(s, t.dtype(), t.layout() == Layout::nhwc ? Layout::nchw : Layout::nhwc);
    };
    const Tensor &xx = in[0], &ww = in[1], &dy = in[2], &v = in[3], &dp = in[4], &gm = in[5];
    Tensor yy = other(xx, y), dx = other(xx, x), dw = like(ww, w), none;
    be.conv2d_fwd(conv, xx, ww, none, yy);
    be.conv2d_bwd_data(conv, dy, ww, dx);
    be.conv2d_bwd_weights(conv, xx, dy, dw, none);
    Tensor pooled = other(v, p), dpool = other(v, y), ws, avg = other(v, p), davg = other(v, y);
    be.maxpool_fwd(pool2, v, pooled, ws);
    be.maxpool_bwd(pool2, v, dp, ws, dpool);
    be.avgpool_fwd(pool2, v, avg);
    be.avgpool_bwd(pool2, dp, davg);
    Tensor rm = Tensor::zeros({8}, gm.dtype()), rv = rm.clone(), mean = rm.clone();
    Tensor invstd = rm.clone(), dg = rm.clone(), db = rm.clone(), bn = other(v, y),
           dbn = other(v, y);
    be.batchnorm_fwd_train({}, v, gm, gm, rm, rv, bn, mean, invstd);
    be.batchnorm_bwd({}, v, dy, gm, mean, invstd, dbn, dg, db);
    Tensor sum = other(v, y), relu = other(v, y), drelu = other(v, y);
    be.add_fwd(v, dy, sum);
    be.relu_fwd(v, relu);
    be.relu_bwd(relu, in[6], drelu);
    return Outputs{{"conv y", yy},       {"conv dx", dx},       {"conv dw", dw},
                   {"maxpool", pooled},  {"maxpool dx", dpool}, {"avgpool", avg},
                   {"avgpool dx", davg}, {"bn y", bn},          {"bn dx", dbn},
                   {"bn dgamma", dg},    {"add", sum},          {"relu", relu},
                   {"relu dx", drelu}};
  };
  return {"mixed layouts", true, inputs, run};
}

std::vector<Case> all_cases() {
  std::vector<Case> cases = conv_and_norm_cases();
  cases.push_back(elementwise_case());
  cases.push_back(shape_ops_case());
  cases.push_back(dense_case(0));
  cases.push_back(dense_case(0.1));
  cases.push_back(optimizer_case());
  cases.push_back(mixed_layout_case());
  return cases;
}

// Rounds f64 inputs to f32 values, so both backends see the same numbers.
Inputs rounded(const Inputs& in, DType dtype) {
  Inputs out;
  for (const Tensor& t : in) {
    if (!t.defined() || t.dtype() == DType::i64) {
      out.push_back(t);
      continue;
    }
    const Tensor f = t.to(DType::f32);
    out.push_back(dtype == DType::f32 ? f : f.to(DType::f64));
  }
  return out;
}

void check_case(const Case& c, Layout layout) {
  test::Rng rng(std::hash<std::string>{}(c.name));
  const Inputs master = c.inputs(rng, layout);
  Inputs in64 = rounded(master, DType::f64), in32 = rounded(master, DType::f32);
  ReferenceBackend ref;
  CpuBackend cpu;
  const Outputs want = c.run(ref, in64);
  const Outputs got = c.run(cpu, in32);
  REQUIRE(want.size() == got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = max_rel_diff(got[i].second, want[i].second);
    INFO(c.name << " [" << test::layout_name(layout) << "] " << want[i].first << ": rel diff "
                << err);
    CHECK(err < kTol);
    CHECK(max_rel_diff(want[i].second, Tensor::zeros(want[i].second.shape(), DType::f64)) > 0);
  }
}

}  // namespace

TEST_CASE("cpu backend matches the reference on every op", "[cpu]") {
  for (const Case& c : all_cases()) {
    for (Layout layout : {Layout::nhwc, Layout::nchw}) {
      if (!c.both_layouts && layout == Layout::nhwc) continue;
      DYNAMIC_SECTION(c.name << " " << test::layout_name(layout)) { check_case(c, layout); }
    }
  }
}

TEST_CASE("cpu backend rejects f64 and bad labels with named errors", "[cpu]") {
  CpuBackend cpu;
  const Tensor x = Tensor::zeros({1, 2, 3, 3}, DType::f64);
  Tensor y = Tensor::zeros({1, 2, 3, 3}, DType::f64);
  CHECK_THROWS_WITH(cpu.relu_fwd(x, y), Catch::Contains("[relu_fwd]") && Catch::Contains("f32"));
  const Tensor logits = Tensor::zeros({2, 3});
  Tensor loss = Tensor::zeros({}), probs = Tensor::zeros({2, 3});
  CHECK_THROWS_AS(cpu.softmax_xent_fwd(0, logits, labels({0, 3}), loss, probs), DataError);
  CHECK_THROWS_AS(cpu.softmax_xent_fwd(0, logits, labels({-1, 0}), loss, probs), DataError);
}

}  // namespace mt
