#pragma once
// Backend-equivalence cases (tests/kernels/backend_cases.h), part 1: convolution (with the batch
// norm folded in for inference), batch norm with its fused ReLU epilogues, pooling, and outputs
// whose layout differs from the inputs'. Odd shapes throughout (C = 5, 17; H != W; N = 3), so that
// no kernel gets away with assuming powers of two, square images or a vectorisable channel count.
#include <string>
#include <vector>

#include "tests/kernels/backend_cases.h"

namespace mt::test {

inline Shape conv_out(const Shape& x, const Shape& w, const Conv2dDesc& d) {
  return {x[0], w[0], (x[2] + 2 * d.pad_h - d.dilation_h * (w[2] - 1) - 1) / d.stride_h + 1,
          (x[3] + 2 * d.pad_w - d.dilation_w * (w[3] - 1) - 1) / d.stride_w + 1};
}

// Forward and both backward passes; db stays undefined without a bias (the "no bias" path).
inline Case conv_case(std::string name, Shape x, Shape w, Conv2dDesc d, bool bias) {
  const Shape y = conv_out(x, w, d);
  auto inputs = [=](Rng& rng, Layout l) {
    return Inputs{uniform(x, rng, l), uniform(w, rng), bias ? uniform({w[0]}, rng) : Tensor(),
                  uniform(y, rng, l)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &xx = in[0], &ww = in[1], &b = in[2], &dy = in[3];
    Tensor yy = like(be, xx, y), dx = like(be, xx, x), dw = like(be, ww, w);
    Tensor db = bias ? like(be, ww, {w[0]}) : Tensor();
    be.conv2d_fwd(d, xx, ww, b, yy);
    be.conv2d_bwd_data(d, dy, ww, dx);
    be.conv2d_bwd_weights(d, xx, dy, dw, db);
    Outputs out{{"y", yy}, {"dx", dx}, {"dw", dw}};
    if (bias) out.push_back({"db", db});
    return out;
  };
  return {std::move(name), true, inputs, run};
}

inline std::vector<Case> conv_cases() {
  // Conv2dDesc: stride h/w, pad h/w, dilation h/w, groups.
  return {
      conv_case("conv 3->5 7x9 k3 p1 bias", {3, 3, 7, 9}, {5, 3, 3, 3}, {1, 1, 1, 1, 1, 1, 1},
                true),
      conv_case("conv 17->16 9x7 k3 s2 p1", {3, 17, 9, 7}, {16, 17, 3, 3}, {2, 2, 1, 1, 1, 1, 1},
                false),
      conv_case("conv groups 3 dilation 2 bias", {2, 6, 9, 8}, {9, 2, 3, 3}, {1, 1, 2, 2, 2, 2, 3},
                true),
      conv_case("conv groups 2 widening 4->6", {3, 4, 7, 9}, {6, 2, 3, 3}, {1, 1, 1, 1, 1, 1, 2},
                false),
      conv_case("conv depthwise 17 s2 7x9", {3, 17, 7, 9}, {17, 1, 3, 3}, {2, 2, 1, 1, 1, 1, 17},
                false),
      conv_case("conv 5->3 on 1x1 bias", {4, 5, 1, 1}, {3, 5, 1, 1}, {1, 1, 0, 0, 1, 1, 1}, true),
      // Stride 2 with a 1x1 kernel leaves input pixels that no output reads: dx must be 0 there.
      conv_case("conv 1x1 s2 16->32 on 7x7", {2, 16, 7, 7}, {32, 16, 1, 1}, {2, 2, 0, 0, 1, 1, 1},
                false),
      conv_case("conv 5x3 kernel s2x1 p2x1 3->4 bias", {3, 3, 8, 6}, {4, 3, 5, 3},
                {2, 1, 2, 1, 1, 1, 1}, true),
      conv_case("conv 5x5 p2 on 8x6, 3->4 bias", {2, 3, 8, 6}, {4, 3, 5, 5}, {1, 1, 2, 2, 1, 1, 1},
                true),
      conv_case("conv 5->17 dilation 3x2 p3x2 on 7x9", {3, 5, 7, 9}, {17, 5, 3, 3},
                {1, 1, 3, 2, 3, 2, 1}, false),
      conv_case("conv 16->16 16x16 k3 p1 batch 4", {4, 16, 16, 16}, {16, 16, 3, 3},
                {1, 1, 1, 1, 1, 1, 1}, false),
      // Shapes the CPU backend runs on Winograd (kernels/cpu/conv_winograd.h): images that end in
      // partial 4x4 tiles, with and without padding.
      conv_case("conv 32->48 7x9 k3 p1 bias (Winograd)", {3, 32, 7, 9}, {48, 32, 3, 3},
                {1, 1, 1, 1, 1, 1, 1}, true),
      conv_case("conv 48->32 6x5 k3 p0 (Winograd)", {2, 48, 6, 5}, {32, 48, 3, 3},
                {1, 1, 0, 0, 1, 1, 1}, false),
  };
}

// Inference with the batch norm folded into the convolution, against the reference's plain
// composition (conv, then batch norm in place, then the ReLU); and the same with a residual added
// before the ReLU (y holds it on entry).
inline Case conv_bn_case(std::string name, Shape x, Shape w, Conv2dDesc d, bool bias, bool affine,
                         bool relu) {
  const Shape y = conv_out(x, w, d), c{w[0]};
  auto inputs = [=](Rng& rng, Layout l) {
    return Inputs{uniform(x, rng, l),
                  uniform(w, rng),
                  bias ? uniform(c, rng) : Tensor(),
                  affine ? uniform(c, rng, Layout::nchw, 0.5, 1.5) : Tensor(),
                  affine ? uniform(c, rng) : Tensor(),
                  uniform(c, rng),
                  uniform(c, rng, Layout::nchw, 0.5, 2),
                  uniform(y, rng, l)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    Tensor yy = like(be, in[0], y), sum = dup(be, in[7]);
    be.conv2d_bn_fwd_eval(d, in[0], in[1], in[2], BatchNormDesc{1e-3, 0.1}, in[3], in[4], in[5],
                          in[6], relu, yy);
    be.conv2d_bn_add_fwd_eval(d, in[0], in[1], in[2], BatchNormDesc{1e-3, 0.1}, in[3], in[4], in[5],
                              in[6], relu, sum);
    return Outputs{{"y", yy}, {"y + residual", sum}};
  };
  return {std::move(name), true, inputs, run};
}

inline std::vector<Case> conv_bn_cases() {
  return {
      conv_bn_case("conv+bn 3->5 7x9 p1 bias", {3, 3, 7, 9}, {5, 3, 3, 3}, {1, 1, 1, 1, 1, 1, 1},
                   true, true, false),
      conv_bn_case("conv+bn+relu 17->16 s2 p1", {3, 17, 9, 7}, {16, 17, 3, 3},
                   {2, 2, 1, 1, 1, 1, 1}, false, true, true),
      conv_bn_case("conv+bn+relu depthwise 17", {3, 17, 7, 9}, {17, 1, 3, 3},
                   {1, 1, 1, 1, 1, 1, 17}, true, true, true),
      conv_bn_case("conv+bn no affine 1x1 5->3", {4, 5, 7, 9}, {3, 5, 1, 1}, {1, 1, 0, 0, 1, 1, 1},
                   false, false, false),
      // 64 channels: the CPU backend's folded evaluation takes Winograd from 64 on.
      conv_bn_case("conv+bn+relu 64->64 9x7 p1 bias (Winograd)", {3, 64, 9, 7}, {64, 64, 3, 3},
                   {1, 1, 1, 1, 1, 1, 1}, true, true, true),
  };
}

// Batch norm in eval and training mode and its backward, then the same through the fused ReLU
// epilogues. Running statistics are updated on copies, one per training forward.
inline Case batchnorm_case(std::string name, Shape x, bool affine, bool param_grads,
                           BatchNormDesc d) {
  const Shape c{x[1]};
  auto inputs = [=](Rng& rng, Layout l) {
    return Inputs{uniform(x, rng, l, 1, 3),  // off-centre, so that the mean matters
                  affine ? uniform(c, rng, Layout::nchw, 0.5, 1.5) : Tensor(),
                  affine ? uniform(c, rng) : Tensor(),
                  uniform(c, rng),
                  uniform(c, rng, Layout::nchw, 0.5, 2),
                  uniform(x, rng, l)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &xx = in[0], &gamma = in[1], &beta = in[2], &dy = in[5];
    const bool grads = affine && param_grads;
    Tensor rm = dup(be, in[3]), rv = dup(be, in[4]), y_eval = like(be, xx, x);
    Tensor y = like(be, xx, x), mean = like(be, xx, c), invstd = like(be, xx, c);
    Tensor dx = like(be, xx, x), dgamma = grads ? like(be, xx, c) : Tensor();
    Tensor dbeta = grads ? like(be, xx, c) : Tensor();
    be.batchnorm_fwd_eval(d, xx, gamma, beta, rm, rv, y_eval);
    be.batchnorm_fwd_train(d, xx, gamma, beta, rm, rv, y, mean, invstd);
    be.batchnorm_bwd(d, xx, dy, gamma, mean, invstd, dx, dgamma, dbeta);

    Tensor rm_r = dup(be, in[3]), rv_r = dup(be, in[4]), yr_eval = like(be, xx, x);
    Tensor yr = like(be, xx, x), mean_r = like(be, xx, c), invstd_r = like(be, xx, c);
    Tensor dy_r = dup(be, dy), dx_r = like(be, xx, x);  // dy_r: the fused backward may reuse it
    Tensor dgamma_r = grads ? like(be, xx, c) : Tensor();
    Tensor dbeta_r = grads ? like(be, xx, c) : Tensor();
    be.batchnorm_relu_fwd_eval(d, xx, gamma, beta, rm_r, rv_r, yr_eval);
    be.batchnorm_relu_fwd_train(d, xx, gamma, beta, rm_r, rv_r, yr, mean_r, invstd_r);
    be.batchnorm_relu_bwd(d, xx, yr, dy_r, gamma, beta, mean_r, invstd_r, dx_r, dgamma_r, dbeta_r);

    Outputs out{{"y_eval", y_eval},
                {"y", y},
                {"save_mean", mean},
                {"save_invstd", invstd},
                {"running_mean", rm},
                {"running_var", rv},
                {"dx", dx},
                {"relu y_eval", yr_eval},
                {"relu y", yr},
                {"relu save_mean", mean_r},
                {"relu save_invstd", invstd_r},
                {"relu running_mean", rm_r},
                {"relu running_var", rv_r},
                {"relu dx", dx_r}};
    if (grads)
      out.insert(out.end(), {{"dgamma", dgamma},
                             {"dbeta", dbeta},
                             {"relu dgamma", dgamma_r},
                             {"relu dbeta", dbeta_r}});
    return out;
  };
  return {std::move(name), true, inputs, run};
}

inline std::vector<Case> batchnorm_cases() {
  const BatchNormDesc torch{1e-5, 0.1}, other{1e-3, 0.25};
  return {
      batchnorm_case("batchnorm C=5 7x9 N=3", {3, 5, 7, 9}, true, true, torch),
      batchnorm_case("batchnorm C=17 1x1 N=8", {8, 17, 1, 1}, true, true, torch),
      batchnorm_case("batchnorm C=16 5x5 eps 1e-3 momentum 0.25", {2, 16, 5, 5}, true, true, other),
      batchnorm_case("batchnorm C=5 no affine", {3, 5, 4, 3}, false, false, torch),
      batchnorm_case("batchnorm C=17 affine, no param grads", {3, 17, 7, 9}, true, false, torch),
      batchnorm_case("batchnorm C=17 16x16 N=8", {8, 17, 16, 16}, true, true, torch),
  };
}

// PyTorch's pooled size: with ceil_mode the last window must still start inside the input or
// the left padding.
inline int64_t pool_out(int64_t in, int k, int s, int p, bool ceil) {
  const int64_t span = in + 2 * p - k;
  int64_t out = (ceil ? (span + s - 1) / s : span / s) + 1;
  if (ceil && (out - 1) * s >= in + p) --out;
  return out;
}

inline Case pool_case(std::string name, Shape x, Pool2dDesc d, bool max) {
  const Shape y{x[0], x[1], pool_out(x[2], d.kernel_h, d.stride_h, d.pad_h, d.ceil_mode),
                pool_out(x[3], d.kernel_w, d.stride_w, d.pad_w, d.ceil_mode)};
  auto inputs = [=](Rng& rng, Layout l) {
    return Inputs{distinct(x, rng, l), uniform(y, rng, l)};  // distinct: no max-pool ties
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    Tensor yy = like(be, in[0], y), dx = like(be, in[0], x), workspace;
    if (max) {
      be.maxpool_fwd(d, in[0], yy, workspace);
      be.maxpool_bwd(d, in[0], in[1], workspace, dx);
    } else {
      be.avgpool_fwd(d, in[0], yy);
      be.avgpool_bwd(d, in[1], dx);
    }
    return Outputs{{"y", yy}, {"dx", dx}};
  };
  return {std::move(name), true, inputs, run};
}

// Pool2dDesc: kernel h/w, stride h/w, pad h/w, ceil_mode, count_include_pad.
inline std::vector<Case> pool_cases() {
  return {
      pool_case("maxpool k3 s2 p1 on 7x9", {3, 5, 7, 9}, {3, 3, 2, 2, 1, 1, false, true}, true),
      pool_case("maxpool k2 s2 ceil on 7x7", {2, 17, 7, 7}, {2, 2, 2, 2, 0, 0, true, true}, true),
      pool_case("maxpool k3 s2 p1 ceil on 8x8", {1, 3, 8, 8}, {3, 3, 2, 2, 1, 1, true, true}, true),
      // Overlapping windows: one input collects the gradient of several outputs.
      pool_case("maxpool k3 s1 p1 on 5x6", {3, 5, 5, 6}, {3, 3, 1, 1, 1, 1, false, true}, true),
      pool_case("maxpool k3x2 s2x1 p1x0 on 7x9", {3, 5, 7, 9}, {3, 2, 2, 1, 1, 0, false, true},
                true),
      pool_case("avgpool k3 s2 p1 incl pad on 7x9", {3, 5, 7, 9}, {3, 3, 2, 2, 1, 1, false, true},
                false),
      pool_case("avgpool k3 s2 p1 excl pad on 7x9", {3, 5, 7, 9}, {3, 3, 2, 2, 1, 1, false, false},
                false),
      pool_case("avgpool k3 s2 p1 ceil incl pad on 6x6", {2, 3, 6, 6},
                {3, 3, 2, 2, 1, 1, true, true}, false),
      pool_case("avgpool k2 s2 ceil excl pad on 7x7", {2, 17, 7, 7},
                {2, 2, 2, 2, 0, 0, true, false}, false),
      pool_case("avgpool k3 s1 p1 excl pad on 5x6", {3, 5, 5, 6}, {3, 3, 1, 1, 1, 1, false, false},
                false),
      pool_case("avgpool k3x2 s2x1 p1x0 ceil incl pad on 7x9", {3, 5, 7, 9},
                {3, 2, 2, 1, 1, 0, true, true}, false),
  };
}

// Outputs in the other layout than the inputs (and dy in the other layout than x): each op must
// read and write through the strides it is given.
inline Case mixed_layout_case() {
  const Shape x{3, 16, 9, 9}, w{8, 16, 3, 3}, y{3, 8, 9, 9}, p{3, 8, 5, 5};
  const Conv2dDesc conv{1, 1, 1, 1, 1, 1, 1};
  const Pool2dDesc pool{3, 3, 2, 2, 1, 1, false, true};
  auto inputs = [=](Rng& rng, Layout l) {
    const Layout o = other_layout(l);
    return Inputs{uniform(x, rng, l), uniform(w, rng),   uniform(y, rng, o), distinct(y, rng, l),
                  uniform(p, rng, o), uniform({8}, rng), uniform(y, rng, l)};
  };
  auto run = [=](KernelBackend& be, Inputs& in) {
    const Tensor &xx = in[0], &ww = in[1], &dy = in[2], &v = in[3], &dp = in[4], &gm = in[5];
    auto other = [&](const Tensor& t, const Shape& s) {
      return poisoned(be, t, s, other_layout(t.layout()));
    };
    Tensor yy = other(xx, y), dx = other(xx, x), dw = like(be, ww, w), none;
    be.conv2d_fwd(conv, xx, ww, none, yy);
    be.conv2d_bwd_data(conv, dy, ww, dx);
    be.conv2d_bwd_weights(conv, xx, dy, dw, none);
    Tensor pooled = other(v, p), dpool = other(v, y), ws, avg = other(v, p), davg = other(v, y);
    be.maxpool_fwd(pool, v, pooled, ws);
    be.maxpool_bwd(pool, v, dp, ws, dpool);
    be.avgpool_fwd(pool, v, avg);
    be.avgpool_bwd(pool, dp, davg);
    Tensor rm = dup(be, gm), rv = dup(be, gm), mean = like(be, gm, {8}), invstd = like(be, gm, {8});
    be.fill(rv, 1.0);  // a valid running variance; these statistics are not compared
    Tensor dg = like(be, gm, {8}), db = like(be, gm, {8}), bn = other(v, y), dbn = other(v, y);
    be.batchnorm_fwd_train({}, v, gm, gm, rm, rv, bn, mean, invstd);
    be.batchnorm_bwd({}, v, dy, gm, mean, invstd, dbn, dg, db);
    Tensor sum = other(v, y), relu = other(v, y), drelu = other(v, y);
    be.add_fwd(v, dy, sum);
    be.relu_fwd(v, relu);
    be.relu_bwd(relu, in[6], drelu);
    return Outputs{{"conv y", yy},       {"conv dx", dx},       {"conv dw", dw},
                   {"maxpool", pooled},  {"maxpool dx", dpool}, {"avgpool", avg},
                   {"avgpool dx", davg}, {"bn y", bn},          {"bn dx", dbn},
                   {"bn dgamma", dg},    {"bn dbeta", db},      {"add", sum},
                   {"relu", relu},       {"relu dx", drelu}};
  };
  return {"mixed layouts", true, inputs, run};
}

}  // namespace mt::test
