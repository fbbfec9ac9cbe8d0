// YAML graph files a careless or hostile user writes: a key given twice (yaml-cpp keeps both pairs
// and a lookup takes one without a word), nesting deep enough to crash a recursive reader, aliases
// that expand a short file into billions of nodes. Each is a ConfigError naming the file and line,
// from the file as `model.graph` names it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "layers/zoo/model.h"
#include "temp_dir.h"

using Catch::Contains;

namespace {

// The error of building the "yaml" model from a graph file holding `text`, or "no error".
std::string graph_file_error(const mt::testing::TempDir& dir, const std::string& text) {
  const std::filesystem::path file = dir.path / "net.yaml";
  std::ofstream(file, std::ios::trunc) << text;
  mt::layers::ModelOptions o;
  o.in_channels = 1;
  o.image_size = 8;
  o.num_classes = 3;
  o.graph_source = file.string();
  try {
    mt::layers::build_model("yaml", o);
  } catch (const mt::ConfigError& e) {
    return e.what();
  }
  return "no error";
}

const char* kNet = "- {name: conv1, op: conv2d, out_channels: 4, kernel: 3}\n"
                   "- {name: gap, op: global_avgpool2d}\n"
                   "- {name: flat, op: flatten}\n"
                   "- {name: fc, op: linear}\n";

}  // namespace

TEST_CASE("a graph file builds as written", "[yaml]") {
  mt::testing::TempDir dir("graph_ok");
  CHECK(graph_file_error(dir, kNet) == "no error");
}

TEST_CASE("a key given twice in a graph file is an error naming both places", "[yaml]") {
  mt::testing::TempDir dir("graph_dup");
  // In one layer's flow map: both on one line, so the columns tell them apart.
  CHECK_THAT(graph_file_error(dir, "- {name: conv1, op: conv2d, out_channels: 4, kernel: 3, kernel: 5}\n"
                                   "- {name: fc, op: linear}\n"),
             Contains("net.yaml:1:57: key '[0].kernel' is given twice, on line 1, columns 46 and 57"));
  // In a block map, and a repeated `layers:` list whose first one would vanish.
  CHECK_THAT(graph_file_error(dir, "layers:\n  - name: fc\n    op: linear\n    bias: true\n    bias: false\n"),
             Contains("net.yaml:5:5: key 'layers[0].bias' is given twice, at lines 4 and 5"));
  CHECK_THAT(graph_file_error(dir, "layers:\n  - {name: fc, op: linear}\nname: net\nlayers:\n  - {name: x, op: relu}\n"),
             Contains("net.yaml:4:1: key 'layers' is given twice, at lines 1 and 4") && Contains("hint: keep one"));
  // The same attribute in two layers is no duplicate.
  CHECK(graph_file_error(dir, "- {name: a, op: relu}\n- {name: b, op: relu}\n" + std::string(kNet)) == "no error");
}

TEST_CASE("a graph file nested deep is an error at load, not a crash", "[yaml]") {
  mt::testing::TempDir dir("graph_deep");
  // Past yaml-cpp's own bound on its recursive parser (its message alone says "bad file").
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK_THAT(graph_file_error(dir, "- {name: fc, op: linear, inputs: " + deep + "}\n"),
             Contains("net.yaml:") && Contains("YAML nested deeper than 500 levels"));
  // Past ours, which every reader after the load can rely on.
  const std::string nested = std::string(100, '[') + std::string(100, ']');
  CHECK_THAT(graph_file_error(dir, "- {name: fc, op: linear, inputs: " + nested + "}\n"),
             Contains("net.yaml:1:") && Contains("YAML nested deeper than 64 levels"));
  // An alias of the list that holds it makes a cycle: as deep as one cares to walk.
  CHECK_THAT(graph_file_error(dir, "- {name: fc, op: linear, inputs: &a [*a]}\n"),
             Contains("net.yaml:1:") && Contains("nested deeper than 64 levels"));
}

TEST_CASE("aliases that expand a small graph file into a huge one are refused", "[yaml]") {
  mt::testing::TempDir dir("graph_laughs");
  // Nine levels of ten aliases each: a billion nodes from a file of a few hundred bytes.
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 1; k < 10; ++k) text += ", " + prev;
    text += "]\n";
  }
  text += "layers:\n  - {name: fc, op: linear}\n";
  CHECK_THAT(graph_file_error(dir, text), Contains("net.yaml:") && Contains("larger than 1000000 nodes"));
}
