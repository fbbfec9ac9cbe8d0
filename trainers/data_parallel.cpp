#include "trainers/data_parallel.h"

#include <cstring>

#include "core/device_transfer.h"
#include "trainers/crc32c.h"

namespace mt {

namespace {

uint64_t mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  h = (h ^ (h >> 31)) * 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 29);
}

template <typename T>
void average_in_place(Communicator& comm, Tensor& t) {
  T* data = t.data<T>();
  comm.allreduce_sum(data, t.numel());
  const T scale = T(1) / static_cast<T>(comm.size());
  for (int64_t i = 0, n = t.numel(); i < n; ++i) data[i] *= scale;
}

bool is_float(DType t) { return t == DType::f32 || t == DType::f64; }

// Host buckets: the summed values times 1 / size into the gradients, in one pass.
template <typename T>
void scatter_mean(Executor& exec, const std::vector<ValueId>& params, const Tensor& flat, int size) {
  const T* buffer = flat.data<T>();
  const T scale = T(1) / static_cast<T>(size);
  int64_t offset = 0;
  for (ValueId p : params) {
    Tensor& g = exec.param_grad(p);
    T* out = g.data<T>();
    for (int64_t i = 0, n = g.numel(); i < n; ++i) out[i] = buffer[offset + i] * scale;
    offset += g.numel();
  }
}

// A tensor's bytes from `root`, through host memory when it lives on a device.
void broadcast_via_host(Communicator& comm, Tensor& t, int root, KernelBackend* backend) {
  if (t.device() == Device::cpu()) return broadcast_tensor(comm, t, root);
  MT_CHECK(backend, BackendError, "[broadcast] a tensor on ", t.device().str(), " needs its backend to reach the host");
  Tensor host = to_host(t, *backend);
  broadcast_tensor(comm, host, root);
  backend->copy(host, t);
}

}  // namespace

DataParallel::DataParallel(Communicator& comm, Graph& graph, Executor& exec, DataParallelOptions options,
                           Communicator* device_comm)
    : comm_(comm), grads_comm_(device_comm ? *device_comm : comm), graph_(graph), exec_(exec), options_(options) {
  MT_CHECK(options_.bucket_bytes > 0, ConfigError, "distributed.bucket_mb must be > 0");
  for (ValueId b : graph_.buffers()) has_float_buffers_ |= is_float(graph_.value(b).data.dtype());
  if (comm_.size() == 1) return;
  MT_CHECK(grads_comm_.size() == comm_.size(), ConfigError, "[data_parallel] the device communicator spans ",
           grads_comm_.size(), " processes, the host one ", comm_.size());
  const Device device = exec_.backend().device();
  MT_CHECK(grads_comm_.device() == device, ConfigError, "[data_parallel] the gradients live on ", device.str(),
           " but the ", grads_comm_.name(), " communicator sums ", grads_comm_.device().str(),
           " buffers; hint: pass the communicator of make_gpu_communicator() as device_comm");
  plan_buckets();
}

DataParallel::~DataParallel() {
  if (!armed_) return;
  // Left mid-step by an exception: the hook must not outlive this object, and a started
  // allreduce may still write into its bucket, so those buffers are never freed (the process is
  // on its way to abort the job).
  exec_.set_grad_ready_hook(nullptr);
  for (size_t b = known_done_; b < started_; ++b) new Tensor(buckets_[b].flat);
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
    if (!fits) buckets_.push_back({g.dtype(), {}, 0, {}, 0, {}});
    buckets_.back().params.push_back(*it);
    buckets_.back().elements += g.numel();
  }
  bucket_of_.assign(graph_.num_values(), -1);
  for (size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& bucket = buckets_[b];
    bucket.flat = Tensor::empty({bucket.elements}, bucket.dtype, Layout::nchw, exec_.backend().device());
    for (ValueId p : bucket.params) bucket_of_[p] = static_cast<int>(b);
  }
}

void broadcast_graph(Communicator& comm, Graph& graph, int root, KernelBackend* backend) {
  if (comm.size() == 1) return;
  // A cheap guard against ranks that built different models: the value count must agree.
  int64_t values[2] = {graph.num_values(), comm.rank() == root ? graph.num_values() : 0};
  comm.broadcast(&values[1], sizeof values[1], root);
  MT_CHECK(values[0] == values[1], ShapeError, "[data_parallel] rank ", comm.rank(), "'s graph has ", values[0],
           " values, rank ", root, "'s ", values[1], ": every rank must build the same model");
  for (ValueId v : graph.params()) broadcast_via_host(comm, graph.value(v).data, root, backend);
  for (ValueId v : graph.buffers()) broadcast_via_host(comm, graph.value(v).data, root, backend);
}

void DataParallel::broadcast_model() { broadcast_graph(comm_, graph_, 0, &exec_.backend()); }

void DataParallel::broadcast_optimizer(Optimizer& optimizer) {
  if (size() == 1) return;
  NamedTensors state = on_host(optimizer.state_dict());
  broadcast_named_tensors(comm_, state);
  if (!is_root()) optimizer.load_state_dict(state);
}

Tensor DataParallel::bucket_view(Bucket& b, int64_t offset, const Shape& shape) {
  char* base = static_cast<char*>(b.flat.raw()) + offset * static_cast<int64_t>(dtype_size(b.dtype));
  return Tensor::wrap(base, shape, b.dtype, Layout::nchw, nullptr, b.flat.device());
}

// The bucket's gradients into its flat buffer (param gradients are row-major).
void DataParallel::pack(Bucket& b) {
  const bool host = b.flat.device() == Device::cpu();
  int64_t offset = 0;
  for (ValueId p : b.params) {
    const Tensor& g = exec_.param_grad(p);
    Tensor slot = bucket_view(b, offset, g.shape());
    if (host) std::memcpy(slot.raw(), g.raw(), g.nbytes());
    else exec_.backend().copy(g, slot);  // on the backend's stream, after backward's kernels
    offset += g.numel();
  }
}

// The summed bucket, scaled by 1 / size, back into the gradients.
void DataParallel::unpack_mean(Bucket& b) {
  if (b.flat.device() == Device::cpu()) {
    if (b.dtype == DType::f32) scatter_mean<float>(exec_, b.params, b.flat, size());
    else scatter_mean<double>(exec_, b.params, b.flat, size());
    return;
  }
  exec_.backend().scale_inplace(b.flat, 1.0 / size());
  int64_t offset = 0;
  for (ValueId p : b.params) {
    Tensor& g = exec_.param_grad(p);
    exec_.backend().copy(bucket_view(b, offset, g.shape()), g);
    offset += g.numel();
  }
}

void DataParallel::sum_now(Bucket& b) {
  if (b.dtype == DType::f32) grads_comm_.allreduce_sum(b.flat.data<float>(), b.elements);
  else grads_comm_.allreduce_sum(b.flat.data<double>(), b.elements);
}

void DataParallel::start_bucket(Bucket& b) {
  pack(b);
  b.pending = b.dtype == DType::f32 ? grads_comm_.start_allreduce_sum(b.flat.data<float>(), b.elements)
                                    : grads_comm_.start_allreduce_sum(b.flat.data<double>(), b.elements);
}

void DataParallel::average_gradients() {
  if (size() == 1) return;
  for (Bucket& b : buckets_) {
    pack(b);
    sum_now(b);
    unpack_mean(b);
  }
}

void DataParallel::begin_backward() {
  if (!overlapping()) return;
  MT_CHECK(!armed_, Error, "[data_parallel] begin_backward twice without finish_gradients");
  for (Bucket& b : buckets_) b.not_ready = static_cast<int>(b.params.size());
  started_ = known_done_ = 0;
  armed_ = true;
  exec_.set_grad_ready_hook([this](ValueId p) { on_grad_ready(p); });
}

void DataParallel::on_grad_ready(ValueId param) {
  const int b = bucket_of_[param];
  if (b >= 0) --buckets_[b].not_ready;
  // In bucket order, whatever the order gradients finish in: every rank must start its
  // allreduces in the same order.
  while (started_ < buckets_.size() && buckets_[started_].not_ready == 0) start_bucket(buckets_[started_++]);
  // Lets the transport move the started sums along between two nodes' backward.
  if (known_done_ < started_ && grads_comm_.test(buckets_[known_done_].pending)) ++known_done_;
}

void DataParallel::finish_gradients() {
  if (!overlapping()) return average_gradients();
  MT_CHECK(armed_, Error, "[data_parallel] finish_gradients without begin_backward");
  exec_.set_grad_ready_hook(nullptr);
  overlapped_ = static_cast<int64_t>(started_);
  // Every gradient was reported, so every bucket has started; this is a guard, not a path.
  while (started_ < buckets_.size()) start_bucket(buckets_[started_++]);
  for (Bucket& b : buckets_) {
    grads_comm_.wait(b.pending);
    b.pending = {};
    unpack_mean(b);
  }
  armed_ = false;
}

void DataParallel::sync_buffers() {
  if (size() == 1 || !options_.sync_bn_stats) return;
  // NB: integer buffers (batches seen) are equal on every rank already.
  for (ValueId v : graph_.buffers()) {
    Tensor& t = graph_.value(v).data;
    if (!is_float(t.dtype())) continue;
    Tensor host = to_host(t, exec_.backend());
    if (t.dtype() == DType::f32) average_in_place<float>(comm_, host);
    else average_in_place<double>(comm_, host);
    if (host.raw() != t.raw()) exec_.backend().copy(host, t);
  }
}

uint64_t DataParallel::params_hash() const {
  uint64_t h = 0;
  for (ValueId v : graph_.params()) {
    const Tensor t = to_host(graph_.value(v).data, exec_.backend());
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
