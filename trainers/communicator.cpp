#include "trainers/communicator.h"

#include <cstdlib>
#include <initializer_list>

#include <nlohmann/json.hpp>

#include "core/backend.h"

#if MORPHTRAIN_HAVE_MPI
#include "trainers/mpi_communicator.h"
#endif
#if MORPHTRAIN_HAVE_NCCL
#include "trainers/nccl_communicator.h"
#endif

namespace mt {

Communicator& single_process() {
  static SingleProcessCommunicator single;
  return single;
}

std::string broadcast_string(Communicator& comm, std::string text, int root) {
  if (comm.size() == 1) return text;
  int64_t length = static_cast<int64_t>(text.size());
  comm.broadcast(&length, sizeof length, root);
  text.resize(static_cast<size_t>(length));
  if (length > 0) comm.broadcast(text.data(), length, root);
  return text;
}

void broadcast_tensor(Communicator& comm, Tensor& tensor, int root) {
  MT_CHECK(tensor.device() == comm.device(), BackendError, "[broadcast] tensor on ", tensor.device().str(),
           ": the ", comm.name(), " communicator moves ", comm.device().str(), " memory");
  if (tensor.nbytes() > 0) comm.broadcast(tensor.raw(), static_cast<int64_t>(tensor.nbytes()), root);
}

void broadcast_named_tensors(Communicator& comm, NamedTensors& tensors, int root) {
  if (comm.size() == 1) return;
  nlohmann::json header = nlohmann::json::array();
  if (comm.rank() == root)
    for (const auto& [name, t] : tensors)
      header.push_back({{"name", name}, {"dtype", static_cast<int>(t.dtype())}, {"shape", t.shape().dims()},
                        {"layout", t.layout() == Layout::nhwc ? "nhwc" : "nchw"}});
  header = nlohmann::json::parse(broadcast_string(comm, header.dump(), root));
  if (comm.rank() != root) {
    tensors.clear();
    for (const nlohmann::json& h : header) {
      const Shape shape(h["shape"].get<std::vector<int64_t>>());
      const Layout layout = h["layout"] == "nhwc" ? Layout::nhwc : Layout::nchw;
      tensors.emplace_back(h["name"].get<std::string>(),
                           Tensor::empty(shape, static_cast<DType>(h["dtype"].get<int>()), layout));
    }
  }
  for (auto& entry : tensors) broadcast_tensor(comm, entry.second, root);
}

int launched_world_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* v = std::getenv(var)) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  return 1;
}

namespace {
// The value of the first of `vars` that is set to a number >= 0, else -1.
int first_env_number(std::initializer_list<const char*> vars) {
  for (const char* var : vars) {
    const char* v = std::getenv(var);
    if (!v || !*v) continue;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (*end == '\0' && n >= 0 && n < (1 << 20)) return static_cast<int>(n);
  }
  return -1;
}
}  // namespace

LocalPlacement launched_local_placement() {
  const int rank = first_env_number({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"});
  if (rank < 0) return {};
  const int size = first_env_number({"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"});
  return {rank, size > rank ? size : 0};
}

std::unique_ptr<Communicator> make_communicator(const CommunicatorOptions& options) {
  const int launched = launched_world_size();
  if (launched == 1) return std::make_unique<SingleProcessCommunicator>();
#if MORPHTRAIN_HAVE_MPI
  return std::make_unique<MpiCommunicator>(options);
#else
  (void)options;
  MT_FAIL(ConfigError, "this process was launched by mpirun as one of ", launched,
          " processes, but morphtrain was built without MPI; hint: apt-get install libopenmpi-dev "
          "openmpi-bin and reconfigure with -DMORPHTRAIN_MPI=ON (or run without mpirun)");
#endif
}

std::unique_ptr<Communicator> make_gpu_communicator(Communicator& host, KernelBackend& backend,
                                                    const CommunicatorOptions& options) {
  if (backend.device().kind == DeviceKind::cpu || host.size() == 1) return nullptr;
#if MORPHTRAIN_HAVE_NCCL
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  MT_CHECK(cuda, BackendError, "[nccl] the backend on ", backend.device().str(), " is '", backend.name(),
           "', not the CUDA backend NCCL needs for its stream");
  return std::make_unique<NcclCommunicator>(host, *cuda, options);
#else
  (void)options;
  MT_FAIL(ConfigError, "training on ", backend.device().str(), " with ", host.size(),
          " processes needs NCCL to average the gradients on the GPUs, but morphtrain was built without it; "
          "hint: install NCCL into the CUDA prefix (libnccl.so, nccl.h) and reconfigure, or train with device: cpu");
#endif
}

}  // namespace mt
