#include "tools/speed_guard.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "morph/reshape.h"
#include "tools/onnx_export.h"
#include "tools/onnxruntime_speed.h"
#include "tools/pipeline_report.h"

namespace mt::tools {

namespace fs = std::filesystem;

namespace {

std::string ratio_text(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", r);
  return buf;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// The worse of the two runtimes: what decides between candidates.
double worst(const SpeedCheck& s) { return s.onnxruntime ? std::min(s.morphtrain, *s.onnxruntime) : s.morphtrain; }

}  // namespace

std::string SpeedCheck::describe() const {
  std::string out = ratio_text(morphtrain) + " the dense model's speed in morphtrain";
  if (onnxruntime) out += ", " + ratio_text(*onnxruntime) + " in ONNX Runtime";
  else if (!onnxruntime_skipped.empty()) out += " (ONNX Runtime not measured: " + onnxruntime_skipped + ")";
  return out;
}

SpeedCheck check_speed(const layers::Model& dense, const layers::Model& slim, int64_t batch, const fs::path& scratch) {
  SpeedCheck s;
  // inference_speed runs the models (it plans their buffers), so it needs them writable; it does
  // not change their weights.
  auto& d = const_cast<layers::Model&>(dense);
  auto& m = const_cast<layers::Model&>(slim);
  const auto [dense_ips, slim_ips] = inference_speed(d, m, batch, 5);
  s.morphtrain = slim_ips / dense_ips;
  if (std::string missing = onnxruntime_missing(); !missing.empty()) {
    s.onnxruntime_skipped = std::move(missing);
    return s;
  }
  fs::create_directories(scratch);
  const fs::path dense_onnx = scratch / "dense.onnx", slim_onnx = scratch / "slim.onnx";
  export_onnx(dense, dense_onnx.string());
  export_onnx(slim, slim_onnx.string());
  const OnnxRuntimeSpeed ort = onnxruntime_speed({dense_onnx.string(), slim_onnx.string()}, static_cast<int>(batch), 5,
                                                 static_cast<int>(std::thread::hardware_concurrency()));
  std::error_code ec;
  fs::remove_all(scratch, ec);
  if (!ort.skipped.empty()) s.onnxruntime_skipped = ort.skipped;
  else s.onnxruntime = median(ort.ratio);
  return s;
}

MeasureFn measure_against(const layers::Model& dense, int64_t batch, const fs::path& scratch) {
  return [&dense, batch, scratch](const morph::ChannelSelection& s) {
    // Fresh weights: the speed of a shape does not depend on them.
    const layers::Model slim = morph::reshape_model(dense, s, {morph::ReshapeInit::fresh, 1, 2.5}).model;
    return check_speed(dense, slim, batch, scratch);
  };
}

namespace {
std::string rounding_label(int64_t round_to) {
  return round_to == kRoundByTable ? "widths rounded by the latency table" : "widths rounded to " + std::to_string(round_to);
}
}  // namespace

GuardedChoice choose_not_slower(int64_t first_round_to, const CandidateFn& candidate, const MeasureFn& measure) {
  std::vector<int64_t> roundings{first_round_to == kRoundByTable ? kRoundByTable : std::max<int64_t>(first_round_to, 1)};
  for (int64_t r : {16, 32})
    if (r > roundings.front()) roundings.push_back(r);
  std::optional<GuardedChoice> best;
  std::vector<std::string> notes;
  for (size_t i = 0; i < roundings.size(); ++i) {
    const std::string label = rounding_label(roundings[i]);
    if (best) notes.push_back("slower than the dense model: trying " + label);
    std::optional<morph::ChannelSelection> s = candidate(roundings[i]);
    MT_CHECK(s || best, ConfigError, "the configured rounding (pipeline.round_to ", roundings[i], ") gave no structure");
    if (!s) {
      notes.push_back("speed check, " + label + ": cannot keep the budget, not tried");
      continue;
    }
    SpeedCheck speed = measure(*s);
    GuardedChoice c{std::move(*s), roundings[i], std::move(speed), {}};
    const bool better = !best || worst(c.speed) > worst(best->speed);
    notes.push_back("speed check, " + label + ": " + c.speed.describe() + (better ? "" : " (not kept)"));
    if (better) best = std::move(c);
    if (!best->speed.slower()) break;
  }
  if (best->speed.slower())
    notes.push_back("WARNING: no rounding made the slim model as fast as the dense one; kept the fastest (" +
                    rounding_label(best->round_to) + "): " + best->speed.describe());
  best->notes = std::move(notes);
  return *best;
}

}  // namespace mt::tools
