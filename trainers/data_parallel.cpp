#include "trainers/data_parallel.h"

#include <cstring>

#include "trainers/crc32c.h"

namespace mt {

namespace {

uint64_t mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  h = (h ^ (h >> 31)) * 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 29);
}

// Gathers the bucket's gradients into one flat buffer, sums it over the ranks and scatters the
// mean back.
template <typename T>
void average_bucket(Communicator& comm, Executor& exec, const std::vector<ValueId>& params, Tensor& flat) {
  T* buffer = flat.data<T>();
  int64_t offset = 0;
  for (ValueId p : params) {
    const Tensor& g = exec.param_grad(p);
    std::memcpy(buffer + offset, g.raw(), g.nbytes());
    offset += g.numel();
  }
  comm.allreduce_sum(buffer, offset);
  const T scale = T(1) / static_cast<T>(comm.size());
  offset = 0;
  for (ValueId p : params) {
    Tensor& g = exec.param_grad(p);
    T* out = g.data<T>();
    for (int64_t i = 0, n = g.numel(); i < n; ++i) out[i] = buffer[offset + i] * scale;
    offset += g.numel();
  }
}

template <typename T>
void average_in_place(Communicator& comm, Tensor& t) {
  T* data = t.data<T>();
  comm.allreduce_sum(data, t.numel());
  const T scale = T(1) / static_cast<T>(comm.size());
  for (int64_t i = 0, n = t.numel(); i < n; ++i) data[i] *= scale;
}

bool is_float(DType t) { return t == DType::f32 || t == DType::f64; }

}  // namespace

DataParallel::DataParallel(Communicator& comm, Graph& graph, Executor& exec, DataParallelOptions options)
    : comm_(comm), graph_(graph), exec_(exec), options_(options) {
  MT_CHECK(options_.bucket_bytes > 0, ConfigError, "distributed.bucket_mb must be > 0");
  for (ValueId b : graph_.buffers()) has_float_buffers_ |= is_float(graph_.value(b).data.dtype());
  if (comm_.size() > 1) plan_buckets();
}

void DataParallel::plan_buckets() {
  const std::vector<ValueId>& params = graph_.params();
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const Tensor& g = exec_.param_grad(*it);
    MT_CHECK(is_float(g.dtype()), ShapeError, "[data_parallel] gradient of '", graph_.value(*it).name, "' is ",
             dtype_name(g.dtype()), ", not a float type");
    const int64_t bytes = static_cast<int64_t>(g.nbytes());
    const bool fits = !buckets_.empty() && buckets_.back().dtype == g.dtype() &&
                      (buckets_.back().elements * static_cast<int64_t>(dtype_size(g.dtype())) + bytes <=
                       options_.bucket_bytes);
    if (!fits) buckets_.push_back({g.dtype(), {}, 0, {}});
    buckets_.back().params.push_back(*it);
    buckets_.back().elements += g.numel();
  }
  for (Bucket& b : buckets_) b.flat = Tensor::empty({b.elements}, b.dtype);
}

void broadcast_graph(Communicator& comm, Graph& graph, int root) {
  if (comm.size() == 1) return;
  // A cheap guard against ranks that built different models: the value count must agree.
  int64_t values[2] = {graph.num_values(), comm.rank() == root ? graph.num_values() : 0};
  comm.broadcast(&values[1], sizeof values[1], root);
  MT_CHECK(values[0] == values[1], ShapeError, "[data_parallel] rank ", comm.rank(), "'s graph has ", values[0],
           " values, rank ", root, "'s ", values[1], ": every rank must build the same model");
  for (ValueId v : graph.params()) broadcast_tensor(comm, graph.value(v).data, root);
  for (ValueId v : graph.buffers()) broadcast_tensor(comm, graph.value(v).data, root);
}

void DataParallel::broadcast_model() { broadcast_graph(comm_, graph_); }

void DataParallel::broadcast_optimizer(Optimizer& optimizer) {
  if (size() == 1) return;
  NamedTensors state = optimizer.state_dict();
  broadcast_named_tensors(comm_, state);
  if (!is_root()) optimizer.load_state_dict(state);
}

void DataParallel::average_gradients() {
  if (size() == 1) return;
  for (Bucket& b : buckets_) {
    if (b.dtype == DType::f32) average_bucket<float>(comm_, exec_, b.params, b.flat);
    else average_bucket<double>(comm_, exec_, b.params, b.flat);
  }
}

void DataParallel::sync_buffers() {
  if (size() == 1 || !options_.sync_bn_stats) return;
  // NB: integer buffers (batches seen) are equal on every rank already.
  for (ValueId v : graph_.buffers()) {
    Tensor& t = graph_.value(v).data;
    if (t.dtype() == DType::f32) average_in_place<float>(comm_, t);
    else if (t.dtype() == DType::f64) average_in_place<double>(comm_, t);
  }
}

uint64_t DataParallel::params_hash() const {
  uint64_t h = 0;
  for (ValueId v : graph_.params()) {
    const Tensor& t = graph_.value(v).data;
    h = mix(h, crc32c(t.raw(), t.nbytes()));
  }
  return h;
}

void DataParallel::verify_replicas(int64_t step) {
  if (size() == 1) return;
  const uint64_t mine = params_hash();
  uint64_t root = mine;
  comm_.broadcast(&root, sizeof root, 0);
  int64_t differing = root != mine;
  comm_.allreduce_sum(&differing, 1);
  MT_CHECK(differing == 0, Error, "[data_parallel] after step ", step, " the weights of ", differing, " of ", size(),
           " ranks differ from rank 0's: the replicas diverged (a non-deterministic allreduce, or a rank that "
           "changed its weights on its own)");
}

}  // namespace mt
