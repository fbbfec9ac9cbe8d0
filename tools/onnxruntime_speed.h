#pragma once
// Inference speed in ONNX Runtime, the runtime most users deploy an ONNX file with, where it is
// installed: it is optional, not a dependency. npm's onnxruntime-node package carries the CPU
// library (`npm install --ignore-scripts --prefix DIR onnxruntime-node`); morphtrain looks for it
// in $MORPHTRAIN_ORT_DIR, else in bench/.ort of the source tree, and runs bench/ort_speed.js with
// node, the models alternating round by round.
#include <optional>
#include <string>
#include <vector>

namespace mt::tools {

struct OnnxRuntimeSpeed {
  std::vector<double> img_per_s;  // per file: the median over the rounds
  std::vector<double> ratio;      // per round: img/s of file 1 over file 0 (the speed-up of b over a)
  std::string skipped;            // non-empty: why nothing was measured
};

// Why ONNX Runtime cannot be run here (not installed, no node), or "" where it can.
std::string onnxruntime_missing();

// Times the ONNX files at `batch` over `rounds` alternating rounds, with `threads` intra-op threads.
OnnxRuntimeSpeed onnxruntime_speed(const std::vector<std::string>& files, int batch, int rounds, int threads);

}  // namespace mt::tools
