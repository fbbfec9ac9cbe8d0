#pragma once
// What morphtrain takes from its environment, read here and nowhere else in the library (the
// launcher's rank variables excepted: trainers/communicator.h reads those, as MPI itself does):
//   MORPHTRAIN_PROFILE=1    time every op (Executor::Options::profile, via TrainOptions)
//   MORPHTRAIN_THIN_CONV=0  oneDNN for every convolution (kernels/cpu/conv_thin.h)
//   MORPHTRAIN_WINOGRAD=0   the direct algorithm for every convolution (kernels/cpu/conv_winograd.h)
//   TERM=dumb               no live progress line even on a terminal
//   MORPHTRAIN_DEBUG        (any value) errors also print where in the source they were thrown
namespace mt::tools {

struct Environment {
  bool profile = false;
  bool thin_conv = true;
  bool winograd = true;
  bool dumb_terminal = false;
  bool debug = false;
};

// Read once, on the first call.
const Environment& environment();

// Applies the process-wide settings of the environment (the thin-conv and Winograd switches of
// the CPU backend); the entry points call it once before any work.
void apply_environment();

}  // namespace mt::tools
