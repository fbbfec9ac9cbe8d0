// Channel groups of the zoo's models and of a hand-built concat/add/depthwise/gate network.
#include <catch2/catch.hpp>

#include <set>

#include "layers/zoo/model.h"
#include "morph/channel_groups.h"
#include "tests/morph/test_models.h"

using namespace mt;
using morph::ChannelGroups;

namespace {

const std::vector<int>& out_groups(const ChannelGroups& g, const std::string& node) {
  return g.channel_groups(g.graph().at(node));
}

std::vector<std::string> names(const ChannelGroups& g, const std::vector<morph::ChannelRef>& refs) {
  std::vector<std::string> out;
  for (const auto& r : refs) out.push_back(g.graph().node(r.node).name + "[" + std::to_string(r.channel) + "]");
  return out;
}

layers::Model zoo(const std::string& name, const std::string& shortcut = "A") {
  layers::ModelOptions o;
  o.shortcut = shortcut;
  return layers::build_model(name, o);
}

}  // namespace

TEST_CASE("resnet20 option A: the stem and layer1 share 16 groups, the pads tie stages", "[morph][groups]") {
  const layers::Model model = zoo("resnet20", "A");
  const ChannelGroups g(model.graph, model.logits);
  // 64 trunk groups (layer3's width; stages 1 and 2 sit inside through the pads) and every
  // block's conv1: 3 x (16 + 32 + 64).
  CHECK(g.num_groups() == 64 + 3 * (16 + 32 + 64));

  const auto& stem = out_groups(g, "conv1");
  for (int c = 0; c < 16; ++c) CHECK(stem[c] == c);  // numbered in graph order
  for (const char* n : {"bn1", "relu", "layer1.0.conv2", "layer1.1.conv2", "layer1.2.conv2", "layer1.2.relu2"})
    CHECK(out_groups(g, n) == stem);
  // Option A pads layer1's 16 channels into layer2's [8, 24) and layer2's 32 into layer3's [16, 48).
  for (const char* n : {"layer2.0.conv2", "layer2.1.conv2", "layer2.2.conv2"}) {
    const auto& l2 = out_groups(g, n);
    REQUIRE(l2.size() == 32);
    for (int c = 0; c < 16; ++c) CHECK(l2[8 + c] == stem[c]);
    for (int c : {0, 7, 24, 31}) CHECK(std::count(stem.begin(), stem.end(), l2[c]) == 0);
  }
  const auto& l2 = out_groups(g, "layer2.2.relu2");
  const auto& l3 = out_groups(g, "layer3.0.conv2");
  for (int c = 0; c < 32; ++c) CHECK(l3[16 + c] == l2[c]);
  // The padded channels are constants: no group.
  const auto& pad = out_groups(g, "layer2.0.shortcut");
  CHECK(pad[0] == ChannelGroups::kNone);
  CHECK(pad[31] == ChannelGroups::kNone);
  CHECK(pad[8] == stem[0]);
  // Block-internal widths are their own groups, one per channel.
  const auto& mid = out_groups(g, "layer1.0.conv1");
  CHECK(std::set<int>(mid.begin(), mid.end()).size() == 16);
  CHECK(std::count(stem.begin(), stem.end(), mid[0]) == 0);
  // Images and logits cannot be pruned; the fc reads layer3's groups through pool and flatten.
  for (int gid : g.channel_groups(model.images)) CHECK(gid == ChannelGroups::kNone);
  for (int gid : g.channel_groups(model.logits)) CHECK(gid == ChannelGroups::kNone);
  CHECK(out_groups(g, "flatten") == out_groups(g, "layer3.2.relu2"));

  // The stem's channel 0 is produced by 10 convs and scaled by 10 batch norms.
  const morph::ChannelGroup& g0 = g.group(stem[0]);
  CHECK(names(g, g0.convs) ==
        std::vector<std::string>{"conv1[0]", "layer1.0.conv2[0]", "layer1.1.conv2[0]", "layer1.2.conv2[0]",
                                 "layer2.0.conv2[8]", "layer2.1.conv2[8]", "layer2.2.conv2[8]",
                                 "layer3.0.conv2[24]", "layer3.1.conv2[24]", "layer3.2.conv2[24]"});
  CHECK(g0.batchnorms.size() == 10);
  CHECK(g0.gates.empty());
  CHECK(g.group_name(stem[0]) == "conv1[0]");
}

TEST_CASE("resnet20 option B: the 1x1 shortcut conv joins its block's conv2", "[morph][groups]") {
  const layers::Model model = zoo("resnet20", "B");
  const ChannelGroups g(model.graph, model.logits);
  CHECK(g.num_groups() == (16 + 32 + 64) + 3 * (16 + 32 + 64));
  CHECK(out_groups(g, "layer2.0.downsample.0") == out_groups(g, "layer2.0.conv2"));
  CHECK(out_groups(g, "layer2.0.downsample.1") == out_groups(g, "layer2.2.conv2"));
  CHECK(out_groups(g, "layer3.0.downsample.0") == out_groups(g, "layer3.1.conv2"));
  // The stages are not tied to each other any more.
  const auto& stem = out_groups(g, "conv1");
  for (int gid : out_groups(g, "layer2.0.conv2")) CHECK(std::count(stem.begin(), stem.end(), gid) == 0);
  const morph::ChannelGroup& grp = g.group(out_groups(g, "layer2.0.conv2")[5]);
  CHECK(names(g, grp.convs) == std::vector<std::string>{"layer2.0.conv2[5]", "layer2.0.downsample.0[5]",
                                                        "layer2.1.conv2[5]", "layer2.2.conv2[5]"});
  CHECK(grp.batchnorms.size() == 4);
}

TEST_CASE("vgg_small: every conv and the hidden linear are groups of their own", "[morph][groups]") {
  const layers::Model model = zoo("vgg_small");
  const ChannelGroups g(model.graph, model.logits);
  CHECK(g.num_groups() == 32 + 32 + 64 + 64 + 128 + 128 + 256);
  int next = 0;
  for (const char* n : {"features.0", "features.3", "features.7", "features.10", "features.14", "features.17",
                        "classifier.0"}) {
    const auto& gs = out_groups(g, n);
    for (size_t c = 0; c < gs.size(); ++c) CHECK(gs[c] == next + static_cast<int>(c));
    next += static_cast<int>(gs.size());
  }
  // flatten of [128, 4, 4]: feature f comes from channel f / 16.
  const auto& flat = out_groups(g, "flatten");
  const auto& last = out_groups(g, "features.17");
  REQUIRE(flat.size() == 2048);
  for (int f : {0, 15, 16, 1000, 2047}) CHECK(flat[f] == last[f / 16]);
  CHECK(g.group(last[0]).convs.size() == 1);
  CHECK(g.group(out_groups(g, "classifier.0")[0]).batchnorms.empty());
  for (int gid : g.channel_groups(model.logits)) CHECK(gid == ChannelGroups::kNone);
}

TEST_CASE("mobilenet_v2: depthwise convs keep their input's groups, adds tie the projections",
          "[morph][groups]") {
  const layers::Model model = zoo("mobilenet_v2");
  const ChannelGroups g(model.graph, model.logits);
  // stem 32; projections per stage (the adds tie a stage) 16+24+32+64+96+160+320; expansions
  // 96+144 | 144+192+192 | 192+3x384 | 384+2x576 | 576+2x960 | 960; the last conv 1280.
  CHECK(g.num_groups() == 32 + 712 + 7104 + 1280);
  CHECK(out_groups(g, "features.2.conv.1.0") == out_groups(g, "features.2.conv.0.0"));
  CHECK(out_groups(g, "features.1.conv.0.0") == out_groups(g, "features.0.0"));
  CHECK(out_groups(g, "features.3.conv.2") == out_groups(g, "features.2.conv.2"));
  CHECK(out_groups(g, "features.6.conv.3") == out_groups(g, "features.4.conv.2"));
  const auto& s3 = out_groups(g, "features.3.conv.2");
  const auto& s4 = out_groups(g, "features.4.conv.2");
  CHECK(std::count(s3.begin(), s3.end(), s4[0]) == 0);
  // An expansion group: one conv source (the depthwise conv is not one), two batch norms.
  const morph::ChannelGroup& e = g.group(out_groups(g, "features.2.conv.0.0")[7]);
  CHECK(names(g, e.convs) == std::vector<std::string>{"features.2.conv.0.0[7]"});
  CHECK(names(g, e.batchnorms) == std::vector<std::string>{"features.2.conv.0.1[7]", "features.2.conv.1.1[7]"});
}

TEST_CASE("concat, add, depthwise and gates in a hand-built network", "[morph][groups]") {
  auto net = test::make_tiny_net();
  const ChannelGroups g(net->m.graph, net->logits);
  CHECK(g.num_groups() == 16);
  CHECK(out_groups(g, "a_relu") == std::vector<int>{0, 1, 2, 3});
  CHECK(out_groups(g, "r") == std::vector<int>{4, 5, 6, 7});
  CHECK(out_groups(g, "s") == std::vector<int>{4, 5, 6, 7});
  CHECK(out_groups(g, "c_gate") == std::vector<int>{8, 9, 10});
  // The consumer of the concat reads both branches' groups, in order.
  CHECK(g.channel_groups(g.graph().node(g.graph().find_node("d")).inputs[0]) ==
        std::vector<int>{4, 5, 6, 7, 8, 9, 10});
  CHECK(out_groups(g, "e") == std::vector<int>{11, 12, 13, 14, 15});
  CHECK(out_groups(g, "flatten") == std::vector<int>{11, 12, 13, 14, 15});

  const morph::ChannelGroup& rs = g.group(5);
  CHECK(names(g, rs.convs) == std::vector<std::string>{"b[1]", "s[1]"});
  CHECK(names(g, rs.batchnorms) == std::vector<std::string>{"b_bn[1]", "s_bn[1]"});
  CHECK(names(g, rs.gates) == std::vector<std::string>{"b_gate[1]", "s_gate[1]"});
  const morph::ChannelGroup& de = g.group(13);
  CHECK(names(g, de.convs) == std::vector<std::string>{"d[2]"});
  CHECK(names(g, de.batchnorms) == std::vector<std::string>{"d_bn[2]", "e_bn[2]"});
  CHECK(names(g, de.gates) == std::vector<std::string>{"d_gate[2]"});
  CHECK(g.graph().value(g.source_param(morph::SourceKind::gate, de.gates[0].node)).name == "d_gate.logits");
  CHECK(g.describe().find("g5 b[1]: conv b[1] s[1]; bn b_bn[1] s_bn[1]; gate b_gate[1] s_gate[1];") !=
        std::string::npos);
}

TEST_CASE("a grouped conv that is not depthwise pins its input and output channels", "[morph][groups]") {
  test::NetMaker m;
  const ValueId x = m.input("images", 3, 4, 4);
  const ValueId a = m.conv("a", x, 4, 3);
  const ValueId b = m.conv("b", a, 6, 3, 1, 2);  // groups 2
  const ValueId c = m.conv("c", b, 5, 1);
  const ValueId y = m.linear("fc", m.flatten("flatten", m.gap("gap", c)), 2);
  const ChannelGroups g(m.graph, y);
  CHECK(g.num_groups() == 5);  // only c's outputs remain prunable
  for (int gid : g.channel_groups(a)) CHECK(gid == ChannelGroups::kNone);
  for (int gid : g.channel_groups(b)) CHECK(gid == ChannelGroups::kNone);
  CHECK(g.channel_groups(c) == std::vector<int>{0, 1, 2, 3, 4});
}
