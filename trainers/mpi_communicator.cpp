#include "trainers/mpi_communicator.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <mpi.h>

namespace mt {

namespace {

// MPI's error string for a return code.
std::string mpi_error(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<size_t>(length));
}

void check(int code, const char* call) {
  MT_CHECK(code == MPI_SUCCESS, BackendError, "[mpi] ", call, " failed: ", mpi_error(code));
}

// MPI counts are ints: larger buffers go in chunks of at most 2^30 elements.
constexpr int64_t kMaxChunk = int64_t{1} << 30;

template <typename T>
void allreduce_chunks(T* data, int64_t n, MPI_Datatype type) {
  for (int64_t done = 0; done < n; done += kMaxChunk) {
    const int count = static_cast<int>(std::min(kMaxChunk, n - done));
    check(MPI_Allreduce(MPI_IN_PLACE, data + done, count, type, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  }
}

// One request per chunk.
template <typename T>
std::vector<MPI_Request> start_allreduce_chunks(T* data, int64_t n, MPI_Datatype type) {
  std::vector<MPI_Request> requests;
  for (int64_t done = 0; done < n; done += kMaxChunk) {
    const int count = static_cast<int>(std::min(kMaxChunk, n - done));
    requests.push_back(MPI_REQUEST_NULL);
    check(MPI_Iallreduce(MPI_IN_PLACE, data + done, count, type, MPI_SUM, MPI_COMM_WORLD, &requests.back()),
          "MPI_Iallreduce");
  }
  return requests;
}

}  // namespace

struct MpiCommunicator::Requests {
  std::unordered_map<int64_t, std::vector<MPI_Request>> in_flight;
  int64_t next_id = 0;

  PendingCollective add(std::vector<MPI_Request> requests) {
    in_flight.emplace(next_id, std::move(requests));
    return {next_id++};
  }
  std::vector<MPI_Request>& at(PendingCollective pending) {
    const auto it = in_flight.find(pending.id);
    MT_CHECK(it != in_flight.end(), BackendError, "[mpi] no background sum ", pending.id,
             " in flight (waited on twice?)");
    return it->second;
  }
};

MpiCommunicator::MpiCommunicator(const CommunicatorOptions& options) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  MT_CHECK(!initialised, BackendError, "[mpi] MPI is already initialised: one MpiCommunicator per process");
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as codes (and become exceptions here) instead of aborting inside MPI.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  watchdog_ = std::make_unique<CollectiveWatchdog>(options.timeout_s, rank_);
  requests_ = std::make_unique<Requests>();
}

MpiCommunicator::~MpiCommunicator() {
  watchdog_.reset();
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (!finalised) MPI_Finalize();
}

void MpiCommunicator::allreduce_sum(float* data, int64_t n) {
  auto guard = watchdog_->arm("allreduce");
  allreduce_chunks(data, n, MPI_FLOAT);
}

void MpiCommunicator::allreduce_sum(double* data, int64_t n) {
  auto guard = watchdog_->arm("allreduce");
  allreduce_chunks(data, n, MPI_DOUBLE);
}

void MpiCommunicator::allreduce_sum(int64_t* data, int64_t n) {
  static_assert(sizeof(int64_t) == sizeof(std::int64_t));
  auto guard = watchdog_->arm("allreduce");
  allreduce_chunks(data, n, MPI_INT64_T);
}

PendingCollective MpiCommunicator::start_allreduce_sum(float* data, int64_t n) {
  return requests_->add(start_allreduce_chunks(data, n, MPI_FLOAT));
}

PendingCollective MpiCommunicator::start_allreduce_sum(double* data, int64_t n) {
  return requests_->add(start_allreduce_chunks(data, n, MPI_DOUBLE));
}

bool MpiCommunicator::test(PendingCollective pending) {
  if (pending.id < 0) return true;
  std::vector<MPI_Request>& requests = requests_->at(pending);
  int done = 0;
  // Finished requests become MPI_REQUEST_NULL, which a later wait skips.
  check(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE),
        "MPI_Testall");
  return done != 0;
}

void MpiCommunicator::wait(PendingCollective pending) {
  if (pending.id < 0) return;
  std::vector<MPI_Request>& requests = requests_->at(pending);
  {
    auto guard = watchdog_->arm("allreduce");
    check(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  }
  requests_->in_flight.erase(pending.id);
}

void MpiCommunicator::broadcast(void* data, int64_t bytes, int root) {
  MT_CHECK(root >= 0 && root < size_, BackendError, "[mpi] broadcast root ", root, " outside [0, ", size_, ")");
  auto guard = watchdog_->arm("broadcast");
  char* p = static_cast<char*>(data);
  for (int64_t done = 0; done < bytes; done += kMaxChunk) {
    const int count = static_cast<int>(std::min(kMaxChunk, bytes - done));
    check(MPI_Bcast(p + done, count, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
}

void MpiCommunicator::barrier() {
  auto guard = watchdog_->arm("barrier");
  check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

void MpiCommunicator::abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

}  // namespace mt
