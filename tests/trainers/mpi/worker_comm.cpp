// Communicator unit checks on every rank: sums (blocking and in the background), broadcasts from
// every root, the helpers built on them, and a barrier that really waits.
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include "tests/trainers/mpi/worker.h"

namespace mt::testing {

bool same_on_all_ranks(Communicator& comm, const std::string& bytes) {
  const std::string root = broadcast_string(comm, bytes);
  int64_t differing = root != bytes;
  comm.allreduce_sum(&differing, 1);
  return differing == 0;
}

std::string graph_bytes(const Graph& graph, bool buffers) {
  std::string out;
  auto append = [&](ValueId v) {
    const Tensor& t = graph.value(v).data;
    out.append(static_cast<const char*>(t.raw()), t.nbytes());
  };
  for (ValueId v : graph.params()) append(v);
  if (buffers)
    for (ValueId v : graph.buffers()) append(v);
  return out;
}

namespace {

template <typename T>
void check_sum(Communicator& comm, int64_t n, T scale, const char* what) {
  std::vector<T> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<T>(comm.rank() + 1) * scale + static_cast<T>(i % 1000);
  comm.allreduce_sum(v.data(), n);
  const int p = comm.size();
  for (int64_t i = 0; i < n; ++i) {
    const T want = static_cast<T>(p * (p + 1) / 2) * scale + static_cast<T>(p) * static_cast<T>(i % 1000);
    require(v[i] == want, std::string(what) + " allreduce at " + std::to_string(i) + ": " + std::to_string(v[i]) +
                              " != " + std::to_string(want));
  }
}

// Background sums: several in flight at once, moved along by test(), finished by wait() in any
// order, each with the blocking sum's values.
void check_background_sums(Communicator& comm) {
  const int p = comm.size();
  std::vector<float> a(100000, static_cast<float>(comm.rank() + 1));
  std::vector<double> b(4099, 0.5 * (comm.rank() + 1));
  std::vector<float> empty;
  const PendingCollective pa = comm.start_allreduce_sum(a.data(), static_cast<int64_t>(a.size()));
  const PendingCollective pb = comm.start_allreduce_sum(b.data(), static_cast<int64_t>(b.size()));
  const PendingCollective pe = comm.start_allreduce_sum(empty.data(), 0);
  for (int i = 0; i < 1000 && !comm.test(pa); ++i) std::this_thread::sleep_for(std::chrono::microseconds(50));
  comm.wait(pb);
  comm.wait(pa);
  comm.wait(pe);
  const float want_a = static_cast<float>(p * (p + 1) / 2);
  for (size_t i = 0; i < a.size(); ++i) require(a[i] == want_a, "background float sum at " + std::to_string(i));
  for (size_t i = 0; i < b.size(); ++i) require(b[i] == 0.5 * want_a, "background double sum at " + std::to_string(i));
}

void check_broadcasts(Communicator& comm) {
  for (int root = 0; root < comm.size(); ++root) {
    std::vector<uint8_t> bytes(100003, comm.rank() == root ? 0 : 0xFF);
    if (comm.rank() == root)
      for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>((i * 7 + root) & 0xFF);
    comm.broadcast(bytes.data(), static_cast<int64_t>(bytes.size()), root);
    for (size_t i = 0; i < bytes.size(); ++i)
      require(bytes[i] == static_cast<uint8_t>((i * 7 + root) & 0xFF), "broadcast from root " + std::to_string(root));
  }
  const std::string s = broadcast_string(comm, comm.is_root() ? std::string("rank zero's text") : std::string("x"));
  require(s == "rank zero's text", "broadcast_string gave '" + s + "'");
  // Named tensors from the last rank, which alone has any.
  const int last = comm.size() - 1;
  NamedTensors named;
  if (comm.rank() == last) {
    Tensor a = Tensor::empty({2, 3}, DType::f32), b = Tensor::empty(Shape{}, DType::i64);
    for (int i = 0; i < 6; ++i) a.data<float>()[i] = 0.5f * i;
    *b.data<int64_t>() = int64_t{1} << 40;
    named = {{"a", a}, {"b", b}};
  }
  broadcast_named_tensors(comm, named, last);
  require(named.size() == 2 && named[0].first == "a" && named[1].first == "b", "named tensor names");
  require(named[0].second.shape() == Shape({2, 3}) && named[0].second.data<float>()[5] == 2.5f, "named tensor a");
  require(*named[1].second.data<int64_t>() == int64_t{1} << 40, "named tensor b");
}

void check_barrier(Communicator& comm) {
  using Clock = std::chrono::steady_clock;
  comm.barrier();
  const auto t0 = Clock::now();
  if (comm.is_root()) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  comm.barrier();
  const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
  require(waited >= 0.25, "the barrier returned after " + std::to_string(waited) + " s, before rank 0 arrived");
}

}  // namespace

int mode_comm(Communicator& comm, const WorkerArgs&) {
  require(comm.size() >= 2, "run under mpirun -np 2 or more (size " + std::to_string(comm.size()) + ")");
  require(comm.size() == launched_world_size(), "size agrees with the launcher");
  require(comm.name() == "mpi", "the MPI communicator");
  check_sum<float>(comm, 1000, 1.0f, "float");
  check_sum<float>(comm, int64_t{3} << 20, 2.0f, "float (12 MiB)");
  check_sum<double>(comm, 4097, 0.25, "double");
  check_sum<int64_t>(comm, 777, int64_t{1} << 40, "int64");
  check_background_sums(comm);
  check_broadcasts(comm);
  check_barrier(comm);
  require(same_on_all_ranks(comm, "same"), "same_on_all_ranks of equal bytes");
  require(!same_on_all_ranks(comm, "rank " + std::to_string(comm.rank())), "same_on_all_ranks of differing bytes");
  return 0;
}

}  // namespace mt::testing
