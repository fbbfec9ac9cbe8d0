#pragma once
// How a structure-learning method turns the learned dense model into the slim one. The pipeline
// knows this interface, not the methods: MorphNet's regularizers choose a structure from the
// alive channels and reshape (slim_by_reshape.cpp); ResRep merges its compactors away
// (slim_by_merge.cpp). make_slim_method picks the config's.
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "layers/zoo/model.h"
#include "tools/config.h"
#include "tools/experiment.h"
#include "tools/pipeline_state.h"

namespace mt::tools {

struct SlimModel {
  layers::Model model;
  // The dense model the report compares against, where it is not the learned one (ResRep's
  // model without compactors); null: the learned dense model.
  std::unique_ptr<layers::Model> reference;
  // false: the slim model is final and the retrain phase only records retrain_figures (ResRep's
  // fine-tune recipe: the merged model as it is).
  bool retrain = true;
  nlohmann::json retrain_figures = nlohmann::json::object();  // added to the retrain phase's
};

class SlimMethod {
 public:
  virtual ~SlimMethod() = default;
  // Builds the slim model from `dense` (its learned weights loaded) and the learn phase's files
  // in `run`; writes structure.json and finishes the "reshape" phase of `state`. Every rank
  // calls it; rank 0 decides and writes.
  virtual SlimModel slim(const Config& config, layers::Model& dense, const DataSplits& data,
                         const std::filesystem::path& run, PipelineState& state, Communicator& comm) const = 0;
};

std::unique_ptr<SlimMethod> make_slim_method(const Config& config);

// The two implementations (make_slim_method chooses).
std::unique_ptr<SlimMethod> slim_by_reshape();
std::unique_ptr<SlimMethod> slim_by_merge();

}  // namespace mt::tools
