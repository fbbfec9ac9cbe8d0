#pragma once
// Backend-equivalence cases (tests/kernels/backend_cases.h), part 2: element-wise ops (with mul's
// broadcast forms and the fused add + ReLU), relu6 / hardsigmoid / hardswish at their kinks,
// concat, channel pad, global average pooling, copies between layouts on the backend's device,
// linear layers, softmax cross-entropy, and every element-wise op on empty tensors.
#include <random>
#include <string>
#include <vector>

#include "tests/kernels/backend_cases.h"

namespace mt::test {

inline Case elementwise_case() {
  const Shape x{3, 17, 5, 7}, big{8, 16, 32, 32};
  auto inputs = [=](Rng& rng, Layout l) {
    return Inputs{off_zero(x, rng, l), uniform(x, rng, l),    uniform(x, rng, l),
                  uniform({17}, rng),  uniform({3, 17}, rng), uniform(big, rng, l),
                  uniform({3, 17, 1, 1}, rng, l)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &a = in[0], &b = in[1], &dy = in[2], &c = in[3], &nc = in[4];
    Tensor none;
    Tensor relu = like(be, a, x), drelu = like(be, a, x), inplace = dup(be, a);
    Tensor sig = like(be, a, x), dsig = like(be, a, x), sum = like(be, a, x);
    be.relu_fwd(a, relu);
    be.relu_bwd(relu, dy, drelu);
    be.relu_fwd(inplace, inplace);  // the default epilogues run it in place
    be.sigmoid_fwd(a, sig);
    be.sigmoid_bwd(sig, dy, dsig);
    be.add_fwd(a, b, sum);
    Tensor accumulated = dup(be, sum);
    be.add_inplace(accumulated, dy);

    Tensor prod = like(be, a, x), da = like(be, a, x), db = like(be, a, x);
    be.mul_fwd(a, b, prod);
    be.mul_bwd(a, b, dy, da, db);
    Tensor pc = like(be, a, x), dpc = like(be, a, x), dc = like(be, c, c.shape());
    Tensor dc_only = like(be, c, c.shape());
    be.mul_fwd(a, c, pc);
    be.mul_bwd(a, c, dy, dpc, dc);
    be.mul_bwd(a, c, dy, none, dc_only);
    Tensor pnc = like(be, a, x), dpnc = like(be, a, x), dnc = like(be, nc, nc.shape());
    Tensor dpnc_only = like(be, a, x);
    be.mul_fwd(a, nc, pnc);
    be.mul_bwd(a, nc, dy, dpnc, dnc);
    be.mul_bwd(a, nc, dy, dpnc_only, none);
    // [N, C, 1, 1] as ONNX's squeeze-excitation writes it: db comes back in that shape.
    const Tensor& nc11 = in[6];
    Tensor p11 = like(be, a, x), dp11 = like(be, a, x), d11 = like(be, nc11, nc11.shape());
    Tensor d11_only = like(be, nc11, nc11.shape());
    be.mul_fwd(a, nc11, p11);
    be.mul_bwd(a, nc11, dy, dp11, d11);
    be.mul_bwd(a, nc11, dy, none, d11_only);

    Tensor ar = like(be, a, x), dar = like(be, a, x), dbr = like(be, a, x);
    Tensor dar_only = like(be, a, x);
    be.add_relu_fwd(a, b, ar);
    be.add_relu_bwd(ar, dy, dar, dbr);
    be.add_relu_bwd(ar, dy, dar_only, none);

    Tensor filled = like(be, a, x), scaled = dup(be, b);
    be.fill(filled, 0.5);
    be.scale_inplace(scaled, -0.25);
    const Tensor squares = host_scalar(be.sum_squares(b));

    // Large enough for many blocks per kernel.
    Tensor big_relu = like(be, in[5], in[5].shape()), big_sum = like(be, in[5], in[5].shape());
    be.relu_fwd(in[5], big_relu);
    be.add_fwd(in[5], big_relu, big_sum);
    be.add_inplace(big_sum, in[5]);
    const Tensor big_squares = host_scalar(be.sum_squares(big_sum));

    return Outputs{{"relu", relu},
                   {"relu dx", drelu},
                   {"relu in place", inplace},
                   {"sigmoid", sig},
                   {"sigmoid dx", dsig},
                   {"add", sum},
                   {"add_inplace", accumulated},
                   {"mul", prod},
                   {"mul da", da},
                   {"mul db", db},
                   {"mul [C]", pc},
                   {"mul [C] da", dpc},
                   {"mul [C] db", dc},
                   {"mul [C] db, da undefined", dc_only},
                   {"mul [N,C]", pnc},
                   {"mul [N,C] da", dpnc},
                   {"mul [N,C] db", dnc},
                   {"mul [N,C] da, db undefined", dpnc_only},
                   {"mul [N,C,1,1]", p11},
                   {"mul [N,C,1,1] da", dp11},
                   {"mul [N,C,1,1] db", d11},
                   {"mul [N,C,1,1] db, da undefined", d11_only},
                   {"add_relu", ar},
                   {"add_relu da", dar},
                   {"add_relu db", dbr},
                   {"add_relu da, db undefined", dar_only},
                   {"fill", filled},
                   {"scale_inplace", scaled},
                   {"sum_squares", squares},
                   {"relu big", big_relu},
                   {"add big", big_sum},
                   {"sum_squares big", big_squares, kReductionTol}};
  };
  return {"elementwise relu sigmoid add mul add_relu fill scale sum_squares", true, inputs, run};
}

// Values over [-8, 8) (every linear piece of relu6, hardsigmoid, hardswish), every fifth exactly on
// a kink (-3, 0, 3, 6) or 2^-20 beside it: exact in f32, so every backend must pick the
// reference's branch there.
inline Tensor with_kinks(const Shape& s, Rng& rng, Layout l) {
  Tensor t = uniform(s, rng, l, -8, 8);
  const double kinks[] = {-3, 0, 3, 6}, nudges[] = {0, 0x1p-20, -0x1p-20};
  std::uniform_int_distribution<int> kink(0, 3), nudge(0, 2);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); i += 5) p[i] = kinks[kink(rng)] + nudges[nudge(rng)];
  return t;
}

// relu6, hardsigmoid, hardswish on an odd shape: forward, backward, in place, and with the output
// and dy in the other layout.
inline Case hard_activation_case() {
  const Shape x{3, 17, 5, 7};
  auto inputs = [=](Rng& rng, Layout l) {
    return Inputs{with_kinks(x, rng, l), uniform(x, rng, l), uniform(x, rng, other_layout(l))};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &a = in[0], &dy = in[1], &dy_other = in[2];
    using Fwd = void (KernelBackend::*)(const Tensor&, Tensor&);
    using Bwd = void (KernelBackend::*)(const Tensor&, const Tensor&, Tensor&);
    const struct {
      std::string name;
      Fwd fwd;
      Bwd bwd;
    } ops[] = {{"relu6", &KernelBackend::relu6_fwd, &KernelBackend::relu6_bwd},
               {"hardsigmoid", &KernelBackend::hardsigmoid_fwd, &KernelBackend::hardsigmoid_bwd},
               {"hardswish", &KernelBackend::hardswish_fwd, &KernelBackend::hardswish_bwd}};
    Outputs out;
    for (const auto& op : ops) {
      const Layout other = other_layout(a.layout());
      Tensor y = like(be, a, x), dx = like(be, a, x), inplace = dup(be, a);
      Tensor y_other = poisoned(be, a, x, other), dx_other = poisoned(be, a, x, other);
      (be.*op.fwd)(a, y);
      (be.*op.bwd)(a, dy, dx);
      (be.*op.fwd)(inplace, inplace);
      (be.*op.fwd)(a, y_other);
      (be.*op.bwd)(a, dy_other, dx_other);
      out.push_back({op.name, y});
      out.push_back({op.name + " dx", dx});
      out.push_back({op.name + " in place", inplace});
      out.push_back({op.name + " to the other layout", y_other});
      out.push_back({op.name + " dx, dy in the other layout", dx_other});
    }
    return out;
  };
  return {"relu6 hardsigmoid hardswish, at their kinks too", true, inputs, run};
}

inline Case shape_ops_case() {
  const Shape a{3, 3, 7, 9}, b{3, 17, 7, 9}, c{3, 5, 7, 9}, cat{3, 25, 7, 9};
  const ChannelPadDesc pad2{3, 4, 2}, pad1{1, 0, 1};
  const Shape padded2{3, 10, 4, 5}, padded1{3, 4, 7, 9};
  auto inputs = [=](Rng& rng, Layout l) {
    return Inputs{uniform(a, rng, l),
                  uniform(b, rng, l),
                  uniform(c, rng, l),
                  uniform(cat, rng, l),
                  uniform(padded2, rng, l),
                  uniform(padded1, rng, l),
                  uniform({3, 17, 1, 1}, rng, l),
                  uniform({3, 17}, rng)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &xa = in[0], &xb = in[1], &xc = in[2], &dcat = in[3];
    Tensor y = like(be, xa, cat), dxa = like(be, xa, a), dxb = like(be, xa, b);
    Tensor dxc = like(be, xa, c), dxa2 = like(be, xa, a), dxc2 = like(be, xa, c);
    be.concat_fwd({&xa, &xb, &xc}, y);
    be.concat_bwd(dcat, {a[1], b[1], c[1]}, {&dxa, &dxb, &dxc});
    be.concat_bwd(dcat, {a[1], b[1], c[1]}, {&dxa2, nullptr, &dxc2});

    Tensor p2 = like(be, xa, padded2), dp2 = like(be, xa, a);
    Tensor p1 = like(be, xa, padded1), dp1 = like(be, xa, a);
    be.channel_pad_fwd(pad2, xa, p2);
    be.channel_pad_bwd(pad2, in[4], dp2);
    be.channel_pad_fwd(pad1, xa, p1);
    be.channel_pad_bwd(pad1, in[5], dp1);

    Tensor g1 = like(be, in[7], {3, 17}), dg1 = like(be, xa, {3, 17, 1, 1});
    Tensor g7 = like(be, in[7], {3, 17}), dg7 = like(be, xa, b);
    be.global_avgpool_fwd(in[6], g1);
    be.global_avgpool_bwd(in[7], dg1);
    be.global_avgpool_fwd(xb, g7);
    be.global_avgpool_bwd(in[7], dg7);

    // Layout changes on the device, both ways, and a same-layout device copy.
    Tensor nchw = poisoned(be, xb, b, Layout::nchw), nhwc = poisoned(be, xb, b, Layout::nhwc);
    Tensor same = like(be, xb, b);
    be.copy(xb, nchw);
    be.copy(nchw, nhwc);
    be.copy(xb, same);
    return Outputs{{"concat", y},
                   {"concat da", dxa},
                   {"concat db", dxb},
                   {"concat dc", dxc},
                   {"concat da, db null", dxa2},
                   {"concat dc, db null", dxc2},
                   {"channel_pad s2", p2},
                   {"channel_pad s2 bwd", dp2},
                   {"channel_pad s1", p1},
                   {"channel_pad s1 bwd", dp1},
                   {"global_avgpool 1x1", g1},
                   {"global_avgpool 1x1 bwd", dg1},
                   {"global_avgpool 7x9", g7},
                   {"global_avgpool 7x9 bwd", dg7},
                   {"copy to nchw", nchw},
                   {"copy to nhwc", nhwc},
                   {"copy same layout", same}};
  };
  return {"concat channel_pad global_avgpool copy", true, inputs, run};
}

// Linear layers with and without bias (and without db), and softmax cross-entropy.
inline Case dense_case(double smoothing) {
  auto inputs = [](Rng& rng, Layout) {
    return Inputs{uniform({5, 17}, rng),
                  uniform({3, 17}, rng),
                  uniform({3}, rng),
                  uniform({5, 3}, rng),
                  uniform({8, 64}, rng),
                  uniform({10, 64}, rng),
                  uniform({8, 10}, rng),
                  uniform({6, 10}, rng, Layout::nchw, -4, 4),
                  labels({0, 9, 3, 3, 7, 1}),
                  uniform({}, rng, Layout::nchw, 0.5, 1),
                  uniform({3, 17}, rng, Layout::nchw, -4, 4),
                  labels({16, 0, 5})};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &x = in[0], &w = in[1], &b = in[2], &dy = in[3];
    Tensor none;
    Tensor y = like(be, x, {5, 3}), dx = like(be, x, x.shape()), dw = like(be, x, w.shape());
    Tensor db = like(be, x, {3});
    be.linear_fwd(x, w, b, y);
    be.linear_bwd_data(dy, w, dx);
    be.linear_bwd_weights(x, dy, dw, db);
    // The classifier of a ResNet, without bias.
    Tensor y2 = like(be, x, {8, 10}), dx2 = like(be, x, {8, 64}), dw2 = like(be, x, {10, 64});
    be.linear_fwd(in[4], in[5], none, y2);
    be.linear_bwd_data(in[6], in[5], dx2);
    be.linear_bwd_weights(in[4], in[6], dw2, none);

    Tensor loss = like(be, x, {}), probs = like(be, x, {6, 10}), dlogits = like(be, x, {6, 10});
    be.softmax_xent_fwd(smoothing, in[7], in[8], loss, probs);
    be.softmax_xent_bwd(smoothing, probs, in[8], in[9], dlogits);
    Tensor loss17 = like(be, x, {}), probs17 = like(be, x, {3, 17});
    Tensor dlogits17 = like(be, x, {3, 17});
    be.softmax_xent_fwd(smoothing, in[10], in[11], loss17, probs17);
    be.softmax_xent_bwd(smoothing, probs17, in[11], in[9], dlogits17);
    return Outputs{{"linear y", y},
                   {"linear dx", dx},
                   {"linear dw", dw},
                   {"linear db", db},
                   {"linear no bias y", y2},
                   {"linear no bias dx", dx2},
                   {"linear no bias dw", dw2},
                   {"xent loss", loss},
                   {"xent probs", probs},
                   {"xent dlogits", dlogits},
                   {"xent K=17 loss", loss17},
                   {"xent K=17 probs", probs17},
                   {"xent K=17 dlogits", dlogits17}};
  };
  return {"linear and softmax xent, smoothing " + std::to_string(smoothing), false, inputs, run};
}

// Every element-wise op, copy and optimizer step must accept tensors with no elements (a launch
// with zero blocks is an error on the GPU).
inline Case empty_case() {
  const Shape x{0, 5, 3, 3};
  auto inputs = [=](Rng& rng, Layout l) {
    return Inputs{uniform(x, rng, l), uniform(x, rng, l), uniform({0, 4}, rng)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &a = in[0], &b = in[1];
    Tensor relu = like(be, a, x), sig = like(be, a, x), sum = like(be, a, x), prod = like(be, a, x);
    Tensor r6 = like(be, a, x), hsig = like(be, a, x), hsw = like(be, a, x), dr6 = like(be, a, x);
    Tensor dhsig = like(be, a, x), dhsw = like(be, a, x);
    be.relu_fwd(a, relu);
    be.sigmoid_fwd(a, sig);
    be.relu6_fwd(a, r6);
    be.hardsigmoid_fwd(a, hsig);
    be.hardswish_fwd(a, hsw);
    be.relu6_bwd(a, b, dr6);
    be.hardsigmoid_bwd(a, b, dhsig);
    be.hardswish_bwd(a, b, dhsw);
    be.add_fwd(a, b, sum);
    be.add_inplace(sum, b);
    be.mul_fwd(a, b, prod);
    Tensor other = poisoned(be, a, x, other_layout(a.layout())), param = dup(be, in[2]);
    be.copy(a, other);
    be.scale_inplace(sum, 2);
    Tensor none;
    be.sgd_step(SgdDesc{}, param, in[2], none);
    return Outputs{{"relu", relu},
                   {"sigmoid", sig},
                   {"relu6", r6},
                   {"hardsigmoid", hsig},
                   {"hardswish", hsw},
                   {"relu6 dx", dr6},
                   {"hardsigmoid dx", dhsig},
                   {"hardswish dx", dhsw},
                   {"add", sum},
                   {"mul", prod},
                   {"copy", other},
                   {"sgd", param},
                   {"sum_squares", host_scalar(be.sum_squares(a)), kTol, true}};
  };
  return {"empty tensors", true, inputs, run};
}

}  // namespace mt::test
