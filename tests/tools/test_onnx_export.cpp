// ONNX export (tools/onnx_export.h): zoo models and a hand-built graph are exported, then
// tests/parity/check_onnx.py validates each file with python3-onnx (checker, strict shape
// inference, symbolic batch) and runs it with its numpy interpreter on the same images morphtrain
// evaluated: the logits must agree. Without python3-onnx the Python half is skipped with a WARN.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "core/executor.h"
#include "core/random.h"
#include "kernels/backends.h"
#include "npy.h"
#include "python_env.h"
#include "temp_dir.h"
#include "tools/onnx_export.h"

namespace {

using namespace mt;
using layers::Model;
using layers::ModelOptions;

void fill_uniform(Tensor& t, Rng& rng, double lo, double hi) {
  Tensor v = Tensor::empty(t.shape(), DType::f64);
  for (int64_t i = 0; i < v.numel(); ++i) v.data<double>()[i] = rng.uniform(lo, hi);
  t.copy_from(v);
}

// Batch norm statistics and gate logits away from their defaults, so folding and gating change
// the numbers; some gate logits negative, so some gates are shut.
void randomize_state(Graph& g, Rng& rng) {
  for (const Node& n : g.nodes()) {
    if (n.op->kind() == OpKind::batchnorm2d) {
      fill_uniform(g.value(n.inputs[1]).data, rng, 0.5, 1.5);   // gamma
      fill_uniform(g.value(n.inputs[2]).data, rng, -0.2, 0.2);  // beta
      fill_uniform(g.value(n.inputs[3]).data, rng, -0.2, 0.2);  // running mean
      fill_uniform(g.value(n.inputs[4]).data, rng, 0.5, 1.5);   // running var
    } else if (n.op->kind() == OpKind::gate) {
      fill_uniform(g.value(n.inputs[1]).data, rng, -1.5, 3.0);
    }
  }
}

// morphtrain's eval logits on `images` (the cpu backend, batch norms folded as it runs them).
Tensor eval_logits(Model& m, const Tensor& images) {
  std::vector<Tensor> feeds{images};
  if (m.labels >= 0) feeds.push_back(Tensor::zeros({images.dim(0)}, DType::i64));
  auto backend = make_backend("cpu");
  Executor exec(m.graph, *backend);
  exec.forward(feeds, Mode::eval);
  return exec.value(m.logits).clone();
}

struct Case {
  std::string label;
  Model model;
  tools::OnnxExportOptions options;
  std::string script_flags;  // --require / --forbid for check_onnx.py
};

// Exports the model, then has check_onnx.py validate and run it against morphtrain's logits.
void check_export(Case& c, uint64_t seed) {
  INFO(c.label);
  Rng rng(seed);
  randomize_state(c.model.graph, rng);
  const Shape& sample = c.model.graph.value(c.model.images).shape;
  Tensor images = Tensor::empty(Shape{3, sample[0], sample[1], sample[2]});
  fill_uniform(images, rng, -1, 1);
  const Tensor expected = eval_logits(c.model, images);

  testing::TempDir dir("onnx");
  const auto model_path = dir.path / (c.label + ".onnx");
  tools::export_onnx(c.model, model_path.string(), c.options);
  std::ifstream in(model_path, std::ios::binary);
  std::string head(2, '\0');
  in.read(head.data(), 2);
  CHECK(head == std::string("\x08\x07", 2));  // ModelProto field 1 (ir_version) = 7, first
  CHECK(dir.entries() == std::vector<std::string>{c.label + ".onnx"});  // no temporary left

  if (!testing::onnx_available()) {
    WARN("SKIPPED: python3-onnx cannot be imported by /usr/bin/python3; install it "
         "(apt-get install python3-onnx) to validate and run the exported ONNX graphs");
    return;
  }
  testing::write_npy(dir.path / "images.npy", images);
  testing::write_npy(dir.path / "expected.npy", expected);
  testing::run_python("tests/parity/check_onnx.py",
                      model_path.string() + " " + (dir.path / "images.npy").string() + " " +
                          (dir.path / "expected.npy").string() + " --tol 1e-4 " + c.script_flags);
}

Case zoo_case(const std::string& label, const std::string& name, ModelOptions o,
              const std::string& flags) {
  o.seed = 11;
  return {label, layers::build_model(name, o), {}, flags};
}

// A graph with what the zoo lacks: a ceil_mode max pool, an average pool without its padding in
// the divisor, a batch norm after a pool (stays BatchNormalization), sigmoid, concat, and muls by
// a [C] parameter and by an [N, C] activation (squeeze-excitation style), an uneven channel_pad.
Model misc_model() {
  Model m;
  m.name = "misc";
  layers::ModelBuilder b(m.graph, 5);
  m.images = b.input("images", {3, 9, 9});
  layers::PoolOptions ceil;
  ceil.stride = 2;
  ceil.ceil_mode = true;
  ValueId x = b.maxpool2d("pool1", m.images, 2, ceil);  // 9 -> 5 (ceil), floor would give 4
  x = b.batchnorm2d("bn0", x);
  layers::ConvOptions c;
  c.padding = 1;
  c.bias = true;
  ValueId y = b.relu("relu1", b.conv2d("conv1", x, 6, 3, c));
  layers::PoolOptions avg;
  avg.stride = 1;
  avg.padding = 1;
  avg.count_include_pad = false;
  ValueId z = b.sigmoid("sig", b.avgpool2d("pool2", y, 3, avg));
  const ValueId gated = b.gate("g", y);
  ValueId scaled = b.mul("scale", gated, m.graph.at("g.logits"));
  ValueId cat = b.concat("cat", {scaled, z});  // 12 channels
  ValueId se = b.sigmoid("se.sig", b.linear("se.fc", b.flatten("se.flat", b.global_avgpool2d("se.pool", cat)), 12));
  ValueId out = b.mul("se.mul", cat, se);
  out = b.channel_pad("shortcut", out, 1, 2, 2);  // uneven, so a swapped Pad shows
  m.logits = b.linear("fc", b.flatten("flatten", b.global_avgpool2d("avgpool", out)), 4);
  return m;
}

// MobileNetV2/V3's activations and squeeze-excitation as ONNX writes it: hardswish, an SE branch
// (global average pool -> 1x1 conv -> relu6 -> 1x1 conv -> hardsigmoid) whose [N, C, 1, 1]
// output scales the block per channel by a plain broadcasting Mul, and a relu6.
Model mobile_activations_model() {
  Model m;
  m.name = "mobile_activations";
  layers::ModelBuilder b(m.graph, 7);
  m.images = b.input("images", {3, 8, 8});
  layers::ConvOptions c;
  c.padding = 1;
  layers::ConvOptions fc;
  fc.bias = true;
  ValueId x = b.hardswish("act1", b.batchnorm2d("bn1", b.conv2d("conv1", m.images, 8, 3, c)));
  ValueId se = b.global_avgpool2d("se.pool", x);
  se = b.relu6("se.relu6", b.conv2d("se.fc1", se, 4, 1, fc));
  se = b.hardsigmoid("se.gate", b.conv2d("se.fc2", se, 8, 1, fc));
  x = b.mul("se.mul", x, se);
  x = b.relu6("act2", b.batchnorm2d("bn2", b.conv2d("conv2", x, 8, 1)));
  m.logits = b.linear("fc", b.flatten("flatten", b.global_avgpool2d("avgpool", x)), 4);
  return m;
}

class MysteryOp : public Op {
 public:
  OpKind kind() const override { return OpKind::custom; }
  std::string kind_name() const override { return "mystery"; }
  std::vector<Shape> infer_shapes(const std::vector<Shape>& in) const override { return in; }
  void forward(OpContext&) const override {}
  void backward(OpContext&) const override {}
};

}  // namespace

TEST_CASE("ONNX exports of zoo models compute morphtrain's eval logits", "[onnx][tools]") {
  ModelOptions small;
  small.image_size = 16;
  ModelOptions b_short = small;
  b_short.shortcut = "B";
  ModelOptions gated = small;
  gated.gating = true;
  ModelOptions vgg_drop = small;
  vgg_drop.dropout = 0.5;
  ModelOptions mobile;  // 32: five stride-2 stages down to 1x1
  const std::string folded = "--forbid BatchNormalization ";

  std::vector<Case> cases;
  cases.push_back(zoo_case("resnet20_A", "resnet20", small, folded + "--require Slice,Pad"));
  cases.push_back(zoo_case("resnet20_B", "resnet20", b_short, "--forbid BatchNormalization,Slice,Pad"));
  cases.push_back(zoo_case("vgg_small_dropout", "vgg_small", vgg_drop, folded + "--require MaxPool"));
  cases.push_back(zoo_case("mobilenet_v2", "mobilenet_v2", mobile, folded));
  cases.push_back(zoo_case("resnet20_gated", "resnet20", gated, folded + "--require Mul"));
  cases.push_back(zoo_case("vgg_small_gated", "vgg_small", gated, folded + "--require Mul"));
  Case keep = zoo_case("resnet20_keep_bn", "resnet20", small, "--require BatchNormalization");
  keep.options.fold_batchnorm = false;
  cases.push_back(std::move(keep));
  uint64_t seed = 1;
  for (Case& c : cases) check_export(c, seed++);
}

TEST_CASE("ONNX export of pooling variants, concat, sigmoid and per-channel muls", "[onnx][tools]") {
  Case c{"misc", misc_model(), {}, "--require BatchNormalization,Unsqueeze,AveragePool,Concat,Sigmoid,Slice,Pad"};
  check_export(c, 21);
}

TEST_CASE("ONNX export of relu6, hardsigmoid, hardswish and an [N, C, 1, 1] mul", "[onnx][tools]") {
  // Opset 13 has no HardSwish: it is HardSigmoid then Mul, as torch.onnx writes it there.
  Case c{"mobile_activations", mobile_activations_model(), {},
         "--require Clip,HardSigmoid,Mul,GlobalAveragePool --forbid HardSwish,Unsqueeze,BatchNormalization"};
  check_export(c, 22);
}

TEST_CASE("ONNX export names the node and kind it cannot export", "[onnx][tools]") {
  Model m;
  m.name = "odd";
  layers::ModelBuilder b(m.graph, 0);
  m.images = b.input("images", {2, 4, 4});
  ValueId x = b.node("strange_layer", std::make_shared<MysteryOp>(), {m.images});
  m.logits = b.linear("fc", b.flatten("flatten", x), 3);
  REQUIRE_THROWS_AS(tools::onnx_model_bytes(m), ConfigError);
  REQUIRE_THROWS_WITH(tools::onnx_model_bytes(m),
                      Catch::Contains("strange_layer") && Catch::Contains("'mystery'"));

  // An average pool whose ceil_mode adds a partial window: no exact ONNX form, so refused.
  Model p;
  p.name = "ceil_avg";
  layers::ModelBuilder pb(p.graph, 0);
  p.images = pb.input("images", {1, 5, 5});
  layers::PoolOptions ceil;
  ceil.ceil_mode = true;
  p.logits = pb.flatten("flatten", pb.avgpool2d("pool", p.images, 2, ceil));
  REQUIRE_THROWS_WITH(tools::onnx_model_bytes(p), Catch::Contains("'pool'") && Catch::Contains("ceil_mode"));
}
