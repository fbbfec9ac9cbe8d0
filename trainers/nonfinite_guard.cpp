#include "trainers/nonfinite_guard.h"

#include <cmath>
#include <filesystem>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"

namespace mt {

namespace {

std::string layer_of(const std::string& tensor) {
  const size_t dot = tensor.rfind('.');
  return dot == std::string::npos ? tensor : tensor.substr(0, dot);
}

// NB: the sum of squares runs in double, so finite f32 values never overflow it: it is finite
// exactly when every element is.
bool finite_on(KernelBackend& backend, const Tensor& t) { return std::isfinite(backend.sum_squares(t)); }

Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.layout(), t.device()); }

}  // namespace

NonfiniteGuard::NonfiniteGuard(Graph& graph, KernelBackend& backend, bool restorable)
    : graph_(graph), backend_(backend), restorable_(restorable) {
  for (ValueId b : graph_.buffers()) {
    const DType dtype = graph_.value(b).data.dtype();
    if (dtype == DType::f32) stats_.push_back(b);
    else if (dtype == DType::i64) counters_.push_back(b);
  }
}

void NonfiniteGuard::before_forward() {
  if (!restorable_) return;
  const bool first = backup_.empty();
  size_t i = 0;
  for (ValueId b : stats_) {
    const Tensor& live = graph_.value(b).data;
    if (first) backup_.push_back(empty_like(live));  // allocated once, where the buffer lives
    backend_.copy(live, backup_[i++]);
  }
  for (ValueId c : counters_) {
    const Tensor& live = graph_.value(c).data;
    if (first) backup_.push_back(empty_like(live));
    backup_[i++].copy_from(live);
  }
}

bool NonfiniteGuard::statistics_finite() const {
  for (ValueId b : stats_)
    if (!finite_on(backend_, graph_.value(b).data)) return false;
  return true;
}

void NonfiniteGuard::restore() {
  if (!restorable_ || backup_.empty()) return;
  size_t i = 0;
  for (ValueId b : stats_) backend_.copy(backup_[i++], graph_.value(b).data);
  for (ValueId c : counters_) graph_.value(c).data.copy_from(backup_[i++]);
}

void NonfiniteGuard::poison_statistics() {
  if (!stats_.empty()) backend_.fill(graph_.value(stats_.front()).data, std::numeric_limits<double>::quiet_NaN());
}

std::vector<NonfiniteTensor> NonfiniteGuard::scan(const Executor& exec) const {
  std::vector<NonfiniteTensor> found;
  for (ValueId b : stats_) {
    const std::string& name = graph_.value(b).name;
    if (!finite_on(backend_, graph_.value(b).data)) found.push_back({name, layer_of(name), "running statistic"});
  }
  for (ValueId p : graph_.params()) {
    const std::string& name = graph_.value(p).name;
    if (!finite_on(backend_, exec.grad(p))) found.push_back({name, layer_of(name), "gradient"});
  }
  return found;
}

void write_nonfinite_report(const std::string& run_dir, int64_t step, double loss,
                            const std::vector<NonfiniteTensor>& found, const std::string& action) {
  if (run_dir.empty()) return;
  const std::filesystem::path path = std::filesystem::path(run_dir) / "nonfinite_report.json";
  if (std::filesystem::exists(path)) return;
  auto entry = [](const NonfiniteTensor& t) {
    return nlohmann::json{{"tensor", t.tensor}, {"layer", t.layer}, {"kind", t.kind}};
  };
  nlohmann::json list = nlohmann::json::array();
  // The first few are what a reader needs; a NaN input can poison every tensor of the model.
  for (size_t i = 0; i < found.size() && i < 32; ++i) list.push_back(entry(found[i]));
  nlohmann::json j = {{"step", step},
                      {"action", action},
                      {"loss", std::isfinite(loss) ? nlohmann::json(loss) : nlohmann::json(std::to_string(loss))},
                      {"first", found.empty() ? nlohmann::json(nullptr) : entry(found.front())},
                      {"nonfinite", std::move(list)},
                      {"count", found.size()}};
  write_file_atomically(path.string(), j.dump(2) + "\n");
}

std::string describe_first(const std::vector<NonfiniteTensor>& found, const std::string& fallback) {
  if (found.empty()) return fallback;
  return "the " + found.front().kind + " '" + found.front().tensor + "' (layer " + found.front().layer + ")";
}

}  // namespace mt
