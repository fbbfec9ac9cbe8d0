#pragma once
// `morphtrain --calibrate FILE --config CFG`: besides the roofline (tools/calibrate.h), the
// latency of every conv2d and linear shape of the config's model, measured through morphtrain's
// own kernels at the report's benchmark batch (pipeline.benchmark_batch), on a grid of input and
// output channel counts (1 and eighths of the dense width), into a measured latency table
// (morph/latency_table.h) that morph.hardware: FILE then costs the latency target with.
#include <iosfwd>

#include "core/backend.h"
#include "layers/zoo/model.h"
#include "morph/latency_table.h"

namespace mt::tools {

// Measures every distinct conv2d / linear shape of `model` (repeated blocks once); says on `log`
// which layer it is at and how long it has taken.
morph::LatencyTable calibrate_layers(KernelBackend& backend, const layers::Model& model, int64_t batch,
                                     std::ostream& log);

}  // namespace mt::tools
