// The proximal step of the max-grouped term: a group's sources are clipped to a common level
// that gives up exactly lambda of their weighted sum, and a whole group dies once lambda
// outweighs it.
#include <catch2/catch.hpp>

#include <cmath>

#include "morph/channel_groups.h"
#include "morph/group_regularizer.h"
#include "tests/morph/test_models.h"

using namespace mt;

namespace {

// x -> conv a -> bn a -> add(.., conv b -> bn b) -> gap -> linear: each of the 3 channels is one
// group with two batch-norm sources (a_bn[c], b_bn[c]) and two conv sources.
struct TiedNet {
  test::NetMaker m;
  ValueId logits;
  TiedNet() {
    const ValueId x = m.input("x", 2, 4, 4);
    const ValueId a = m.bn("a_bn", m.conv("a", x, 3, 3));
    const ValueId b = m.bn("b_bn", m.conv("b", x, 3, 1));
    logits = m.linear("fc", m.flatten("flat", m.gap("gap", m.add("sum", a, b))), 2);
  }
  double& gamma(const std::string& bn, int c) { return m.graph.value(m.graph.at(bn + ".weight")).data.data<double>()[c]; }
  double rms(const std::string& conv, int c) {
    const Tensor& w = m.graph.value(m.graph.at(conv + ".weight")).data;
    const int64_t n = w.numel() / w.dim(0);
    double sq = 0;
    for (int64_t i = c * n; i < (c + 1) * n; ++i) sq += w.data<double>()[i] * w.data<double>()[i];
    return std::sqrt(sq / n);
  }
};

}  // namespace

TEST_CASE("the gamma prox clips a group's scales to a common level, or kills the group", "[morph][proximal]") {
  TiedNet net;
  morph::ChannelGroups groups(net.m.graph, net.logits);
  REQUIRE(groups.num_groups() == 3);
  morph::GroupRegularizer reg(groups, morph::Method::gamma, 1e-3);
  // Channel 0: |3| and |1|, lambda 1 -> the larger drops to 2, the smaller stays.
  // Channel 1: 0.5 and -0.25, lambda 1 > 0.75 -> both 0.
  // Channel 2: 1 and 1, lambda 1 -> both 0.5 (signs kept).
  net.gamma("a_bn", 0) = 3, net.gamma("b_bn", 0) = 1;
  net.gamma("a_bn", 1) = 0.5, net.gamma("b_bn", 1) = -0.25;
  net.gamma("a_bn", 2) = -1, net.gamma("b_bn", 2) = 1;
  std::vector<double> coeff(3);
  for (int g = 0; g < 3; ++g) coeff[groups.channel_groups(net.m.graph.at("a_bn"))[g]] = 2.0;
  reg.proximal_step(coeff, 0.5);  // lambda = 0.5 x 2 = 1 for every group
  CHECK(net.gamma("a_bn", 0) == Approx(2));
  CHECK(net.gamma("b_bn", 0) == Approx(1));
  CHECK(net.gamma("a_bn", 1) == 0);
  CHECK(net.gamma("b_bn", 1) == 0);
  CHECK(net.gamma("a_bn", 2) == Approx(-0.5));
  CHECK(net.gamma("b_bn", 2) == Approx(0.5));
  const morph::GroupState s = reg.evaluate();
  int alive = 0;
  for (bool a : s.alive) alive += a;
  CHECK(alive == 2);
}

TEST_CASE("the group-lasso prox weighs each filter by its size", "[morph][proximal]") {
  TiedNet net;
  morph::ChannelGroups groups(net.m.graph, net.logits);
  morph::GroupRegularizer reg(groups, morph::Method::group_lasso, 1e-2);
  const int g0 = groups.channel_groups(net.m.graph.at("a"))[0];
  const double va = net.rms("a", 0), vb = net.rms("b", 0);
  const double na = 2 * 3 * 3, nb = 2 * 1 * 1;  // elements per output filter
  // A lambda that clips only the larger source: tau = v_max - lambda / n_max.
  const bool a_larger = va > vb;
  const double vmax = a_larger ? va : vb, vmin = a_larger ? vb : va, nmax = a_larger ? na : nb;
  const double lambda = 0.5 * (vmax - vmin) * nmax;
  std::vector<double> coeff(groups.num_groups(), 0.0);
  coeff[g0] = lambda;
  reg.proximal_step(coeff, 1.0);
  CHECK(net.rms(a_larger ? "a" : "b", 0) == Approx(vmax - lambda / nmax));
  CHECK(net.rms(a_larger ? "b" : "a", 0) == Approx(vmin));
  // A lambda beyond the weighted sum kills both filters.
  coeff[g0] = 10 * (na * va + nb * vb);
  reg.proximal_step(coeff, 1.0);
  CHECK(net.rms("a", 0) == 0);
  CHECK(net.rms("b", 0) == 0);
  CHECK_FALSE(reg.evaluate().alive[g0]);
  // Other groups were not touched.
  CHECK(net.rms("a", 1) > 0);
}
