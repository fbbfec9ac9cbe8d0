// learned_structure.json in MorphNet's format, and the richer report.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "layers/zoo/model.h"
#include "morph/structure_export.h"
#include "tests/temp_dir.h"

using namespace mt;

namespace {

morph::RegularizerOptions options(morph::Method m) {
  morph::RegularizerOptions o;
  o.method = m;
  return o;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("learned structure: alive output channels per conv, keyed by op name", "[morph][export]") {
  layers::Model model = layers::build_model("resnet20", {});
  const auto reg = morph::make_regularizer(model.graph, model.logits, options(morph::Method::gamma));
  Tensor gamma = model.graph.value(model.graph.at("layer1.0.bn1.weight")).data;
  for (int c = 0; c < 5; ++c) gamma.data<float>()[c] = 0;

  const nlohmann::json s = morph::learned_structure(*reg);
  CHECK(s.size() == 19);  // every conv; the fc makes the logits
  CHECK(s.at("layer1.0.conv1") == 11);
  CHECK(s.at("conv1") == 16);
  CHECK(s.at("layer3.2.conv2") == 64);
  CHECK_FALSE(s.contains("fc"));
  CHECK(s.begin().key() == "conv1");  // sorted keys, as json.dumps(sort_keys=True)

  testing::TempDir tmp("morph_export");
  const std::string dir = tmp.path.string();
  const std::string path = dir + "/learned_structure.json";
  morph::write_learned_structure(path, *reg);
  const std::string text = read_all(path);
  CHECK(nlohmann::json::parse(text) == s);
  CHECK(text.find("\n  \"conv1\": 16,\n") != std::string::npos);  // indent 2

  const std::string report_path = dir + "/structure_report.json";
  morph::write_structure_report(report_path, *reg);
  const nlohmann::json r = nlohmann::json::parse(read_all(report_path));
  CHECK(r.at("regularizer") == "GammaFlops");
  CHECK(r.at("full_cost") == 81'102'080.0);
  CHECK(r.at("cost") == 81'102'080.0 - 2.0 * 2 * 1024 * 9 * 16 * 5);
  CHECK(r.at("groups") == 400);
  CHECK(r.at("alive_groups") == 395);
  CHECK(r.at("alive_vectors").at("layer1.0.bn1") ==
        nlohmann::json::array({0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
  const nlohmann::json& op = r.at("ops").at(1);  // layer1.0.conv1
  CHECK(op.at("name") == "layer1.0.conv1");
  CHECK(op.at("alive_out") == 11);
  CHECK(op.at("in") == 16);
  CHECK(r.at("channel_groups").at(0).at("sources").size() == 10);
}

TEST_CASE("learned structure leaves out what the method does not regularize", "[morph][export]") {
  const layers::Model model = layers::build_model("vgg_small", {});
  // Gamma: the hidden linear has no batch norm, so no regularizer, so no entry (as MorphNet).
  const auto gamma = morph::make_regularizer(model.graph, model.logits, options(morph::Method::gamma));
  CHECK(morph::learned_structure(*gamma).size() == 6);
  // Group lasso regularizes the hidden linear's rows too.
  const auto lasso = morph::make_regularizer(model.graph, model.logits, options(morph::Method::group_lasso));
  const nlohmann::json s = morph::learned_structure(*lasso);
  CHECK(s.size() == 7);
  CHECK(s.at("classifier.0") == 256);
  // Depthwise convs follow their input and are not listed.
  const layers::Model mnv2 = layers::build_model("mobilenet_v2", {});
  const auto m = morph::make_regularizer(mnv2.graph, mnv2.logits, options(morph::Method::gamma));
  const nlohmann::json ms = morph::learned_structure(*m);
  CHECK(ms.contains("features.2.conv.0.0"));
  CHECK_FALSE(ms.contains("features.2.conv.1.0"));
  CHECK(ms.size() == 1 + 1 + 16 * 2 + 1);  // stem, features.1's projection, 16 x (expand, project), last
}
