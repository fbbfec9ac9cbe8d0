#include "trainers/nccl_communicator.h"

#include <chrono>
#include <exception>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nccl.h>

#include "kernels/cuda/cuda_context.h"

namespace mt {

struct NcclCommunicator::State {
  ncclComm_t comm = nullptr;
  cudaStream_t compute = nullptr;  // the backend's, where the buffers are written and read
  // The collectives' own stream: a sum started during backward runs beside backward's kernels
  // instead of queueing between them. Each collective first waits for `ready`, recorded on the
  // compute stream, so it sees every kernel queued before it.
  cudaStream_t stream = nullptr;
  cudaEvent_t ready = nullptr;
  std::unordered_map<int64_t, cudaEvent_t> in_flight;  // recorded right after each collective
  std::vector<cudaEvent_t> spare;
  int64_t next_id = 0;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    // Errors are ignored: the process is ending or the device is already unusable.
    if (stream) cudaStreamSynchronize(stream);
    for (auto& entry : in_flight) cudaEventDestroy(entry.second);
    for (cudaEvent_t e : spare) cudaEventDestroy(e);
    if (ready) cudaEventDestroy(ready);
    if (stream) cudaStreamDestroy(stream);
  }

  void create_stream(cudaStream_t compute_stream) {
    compute = compute_stream;
    MT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    MT_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  }

  // The collective stream waits (on the device, the host goes on) for the compute stream's work so far.
  void follow_compute() {
    MT_CUDA_CHECK(cudaEventRecord(ready, compute));
    MT_CUDA_CHECK(cudaStreamWaitEvent(stream, ready, 0));
  }

  void check(ncclResult_t result, const char* call) const {
    MT_CHECK(result == ncclSuccess, BackendError, "[nccl] ", call, " failed: ", ncclGetErrorString(result), " (",
             ncclGetLastError(comm), ")");
  }
  ncclComm_t live() const {
    MT_CHECK(comm, BackendError, "[nccl] the communicator was aborted");
    return comm;
  }

  // NB: the first collective also connects to the peers (NCCL connects lazily) and blocks until
  // they join, hence the watchdog around the enqueue too.
  PendingCollective allreduce(void* data, int64_t n, ncclDataType_t type, CollectiveWatchdog& watchdog) {
    if (n > 0) {
      follow_compute();
      auto guard = watchdog.arm("ncclAllReduce");
      // In place (send == receive buffer) is NCCL's documented in-place form.
      check(ncclAllReduce(data, data, static_cast<size_t>(n), type, ncclSum, live(), stream), "ncclAllReduce");
    }
    return queued();
  }

  // A handle on everything queued on the collective stream so far.
  PendingCollective queued() {
    cudaEvent_t done = nullptr;
    if (spare.empty()) {
      MT_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    } else {
      done = spare.back();
      spare.pop_back();
    }
    in_flight.emplace(next_id, done);
    MT_CUDA_CHECK(cudaEventRecord(done, stream));
    return {next_id++};
  }

  cudaEvent_t event_of(PendingCollective pending) const {
    const auto it = in_flight.find(pending.id);
    MT_CHECK(it != in_flight.end(), BackendError, "[nccl] no collective ", pending.id,
             " in flight (waited on twice?)");
    return it->second;
  }

  void release(PendingCollective pending) {
    spare.push_back(event_of(pending));
    in_flight.erase(pending.id);
  }

  // Whether the collective of `done` has finished; throws when NCCL reports a failure (a peer
  // lost, a network error) instead of letting the wait go on.
  bool finished(cudaEvent_t done) const {
    const cudaError_t status = cudaEventQuery(done);
    if (status == cudaSuccess) return true;
    if (status != cudaErrorNotReady) MT_FAIL(BackendError, "[cuda] cudaEventQuery: ", cudaGetErrorString(status));
    ncclResult_t async = ncclSuccess;
    check(ncclCommGetAsyncError(live(), &async), "ncclCommGetAsyncError");
    MT_CHECK(async == ncclSuccess || async == ncclInProgress, BackendError, "[nccl] a collective failed: ",
             ncclGetErrorString(async), " (", ncclGetLastError(comm), ")");
    return false;
  }
};

NcclCommunicator::NcclCommunicator(Communicator& host, CudaBackend& backend, const CommunicatorOptions& options)
    : host_(host), backend_(backend),
      watchdog_(std::make_unique<CollectiveWatchdog>(options.timeout_s, host.rank())),
      state_(std::make_unique<State>()) {
  MT_CHECK(host.device() == Device::cpu(), BackendError, "[nccl] the unique id travels over a host communicator, not ",
           host.name());
  cuda::Context& context = backend.context();
  // NB: the stream, and the NCCL communicator, belong to the current device.
  MT_CUDA_CHECK(cudaSetDevice(context.device_index()));
  state_->create_stream(context.stream());
  ncclUniqueId id{};
  if (host.is_root()) state_->check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  host.broadcast(&id, static_cast<int64_t>(sizeof id), 0);
  auto guard = watchdog_->arm("ncclCommInitRank");
  state_->check(ncclCommInitRank(&state_->comm, host.size(), id, host.rank()), "ncclCommInitRank");
}

NcclCommunicator::~NcclCommunicator() {
  if (!state_->comm) return;  // aborted
  if (std::uncaught_exceptions() > 0) {
    // Unwinding from a failure: the peers may never join a flush, so nothing waits for them.
    ncclCommAbort(state_->comm);
    state_->comm = nullptr;
    return;
  }
  try {
    auto guard = watchdog_->arm("ncclCommFinalize");  // waits for the peers' last collectives
    ncclCommFinalize(state_->comm);
  } catch (...) {
  }
  ncclCommDestroy(state_->comm);
  state_->comm = nullptr;
}

void NcclCommunicator::allreduce_sum(float* data, int64_t n) {
  wait(state_->allreduce(data, n, ncclFloat32, *watchdog_));
}

void NcclCommunicator::allreduce_sum(double* data, int64_t n) {
  wait(state_->allreduce(data, n, ncclFloat64, *watchdog_));
}

void NcclCommunicator::allreduce_sum(int64_t* data, int64_t n) {
  wait(state_->allreduce(data, n, ncclInt64, *watchdog_));
}

PendingCollective NcclCommunicator::start_allreduce_sum(float* data, int64_t n) {
  return state_->allreduce(data, n, ncclFloat32, *watchdog_);
}

PendingCollective NcclCommunicator::start_allreduce_sum(double* data, int64_t n) {
  return state_->allreduce(data, n, ncclFloat64, *watchdog_);
}

bool NcclCommunicator::test(PendingCollective pending) {
  return pending.id < 0 || state_->finished(state_->event_of(pending));
}

void NcclCommunicator::wait(PendingCollective pending) {
  if (pending.id < 0) return;
  const cudaEvent_t done = state_->event_of(pending);
  {
    auto guard = watchdog_->arm("NCCL collective");
    // Polled rather than cudaEventSynchronize: a failed peer shows up in NCCL's error state, and
    // a blocked synchronize would never look there.
    while (!state_->finished(done)) std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  state_->release(pending);
}

void NcclCommunicator::broadcast(void* data, int64_t bytes, int root) {
  MT_CHECK(root >= 0 && root < size(), BackendError, "[nccl] broadcast root ", root, " outside [0, ", size(), ")");
  if (bytes > 0) {
    state_->follow_compute();
    auto guard = watchdog_->arm("ncclBroadcast");
    state_->check(
        ncclBroadcast(data, data, static_cast<size_t>(bytes), ncclUint8, root, state_->live(), state_->stream),
        "ncclBroadcast");
  }
  wait(state_->queued());
}

// NB: orders the processes, not their queued GPU work (a blocking collective waits for that).
void NcclCommunicator::barrier() { host_.barrier(); }

void NcclCommunicator::abort(int code) {
  if (state_->comm) ncclCommAbort(state_->comm);
  state_->comm = nullptr;
  host_.abort(code);
}

}  // namespace mt
