#pragma once
// Never slower than the dense network: before the slim model is retrained, time a fresh copy of
// it against the dense one at inference, in morphtrain and, where it is installed, in ONNX
// Runtime (the runtime an exported slim.onnx usually runs in). Where the slim model is slower in
// either, the structure is chosen again with widths rounded to coarser multiples (16, then 32),
// which the blocked kernels of both run fast, and the first candidate slower in neither is kept.
// Seconds, not minutes: a few alternating rounds of each pair at the report's batch size.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "layers/zoo/model.h"
#include "morph/channel_selection.h"

namespace mt::tools {

struct SpeedCheck {
  double morphtrain = 0;               // slim img/s over dense img/s, median of alternating rounds
  std::optional<double> onnxruntime;   // the same in ONNX Runtime, where it ran
  std::string onnxruntime_skipped;     // why it did not
  bool slower() const { return morphtrain < 1 || (onnxruntime && *onnxruntime < 1); }
  std::string describe() const;        // "1.62x in morphtrain, 1.41x in ONNX Runtime"
};

// Times `slim` against `dense` at `batch`; ONNX files go to `scratch` and are removed again.
SpeedCheck check_speed(const layers::Model& dense, const layers::Model& slim, int64_t batch,
                       const std::filesystem::path& scratch);

struct GuardedChoice {
  morph::ChannelSelection selection;
  int64_t round_to = 1;                // the rounding of the structure kept (kRoundByTable: the table's)
  SpeedCheck speed;                    // its measurement
  std::vector<std::string> notes;      // every candidate measured, and what was kept
};

// The structure for a rounding, or none where that rounding cannot keep the budget.
using CandidateFn = std::function<std::optional<morph::ChannelSelection>(int64_t round_to)>;
using MeasureFn = std::function<SpeedCheck(const morph::ChannelSelection&)>;

// The rounding key of widths rounded by a measured latency table (pipeline.round_widths: table).
inline constexpr int64_t kRoundByTable = 0;

// Tries `first_round_to` (the configured rounding, which must give a structure; kRoundByTable for
// the table's), then multiples of 16 and 32 where coarser, until one is slower in no runtime; keeps that one, else the fastest (by the
// worse of its two ratios) with a warning among the notes.
GuardedChoice choose_not_slower(int64_t first_round_to, const CandidateFn& candidate, const MeasureFn& measure);

// The pipeline's measurement: a fresh slim model of the selection against `dense` (check_speed).
MeasureFn measure_against(const layers::Model& dense, int64_t batch, const std::filesystem::path& scratch);

}  // namespace mt::tools
