#pragma once
// Turns a validated config into the pieces of a run: the model, the data sets, the optimizer
// factory and the learning-rate schedule.
#include <memory>
#include <optional>

#include "layers/zoo/model.h"
#include "tools/config.h"
#include "trainers/communicator.h"
#include "trainers/data_parallel.h"
#include "trainers/dataset.h"
#include "trainers/lr_schedule.h"
#include "trainers/trainer.h"

namespace mt::tools {

struct DataSplits {
  Dataset train;
  std::optional<Dataset> test;
};

DataSplits load_data(const Config& c);
layers::ModelOptions model_options(const Config& c, const Dataset& train);
// The config's network without ResRep's compactors, freshly initialised: what a structure reshapes
// and merges into, and the dense model speed is measured against (fresh weights: a learned
// model's near-zero scales run subnormal and slow it down).
layers::Model plain_model(const Config& c, const Dataset& train);
OptimizerFactory optimizer_factory(const Config& c, const Graph& graph);
// The schedule of a phase of `epochs` epochs (<= 0: train.epochs; the cosine schedule spans it),
// of kind `name` (empty: schedule.name).
LrSchedule lr_schedule(const Config& c, int64_t steps_per_epoch, int64_t epochs = 0, const std::string& name = {});
TrainOptions train_options(const Config& c);
// The `distributed:` section.
DataParallelOptions data_parallel_options(const Config& c);
CommunicatorOptions communicator_options(const Config& c);
// data.mean / data.std, or where they are [] the training set's own per-channel statistics.
Normalization normalization(const Config& c, const Dataset& train);

}  // namespace mt::tools
