// Allreduce bandwidth of the communicator morphtrain trains with, over a range of buffer sizes:
//   mpirun -np 2 [flags of docs/distributed.md] build/bench/bench_allreduce [--max-mib 64]
// Per size: the mean time of one in-place float sum, the algorithm bandwidth (bytes / time) and
// the bus bandwidth (x 2(n-1)/n, what a ring moves per rank: comparable across rank counts, as
// nccl-tests reports it). Rank 0 prints a table and one JSON line per size.
#include <chrono>
#include <cstdio>
#include <vector>

#include <CLI/CLI.hpp>

#include "trainers/communicator.h"

int main(int argc, char** argv) {
  CLI::App app{"allreduce bandwidth over the morphtrain communicator"};
  double max_mib = 64, seconds_per_size = 0.3;
  app.add_option("--max-mib", max_mib, "largest buffer, MiB (default 64)");
  app.add_option("--seconds", seconds_per_size, "time spent per size (default 0.3)");
  CLI11_PARSE(app, argc, argv);
  auto comm = mt::make_communicator();
  const int n = comm->size();
  if (comm->is_root())
    std::printf("allreduce over %d process(es) (%s)\n%12s %12s %12s %12s\n", n, comm->name().c_str(), "bytes",
                "time_us", "algbw_GB/s", "busbw_GB/s");
  for (int64_t bytes = 4096; bytes <= static_cast<int64_t>(max_mib * (1 << 20)); bytes *= 2) {
    std::vector<float> buffer(bytes / 4, 1.0f);
    for (int i = 0; i < 3; ++i) comm->allreduce_sum(buffer.data(), static_cast<int64_t>(buffer.size()));  // warm-up
    // Rank 0 decides the iteration count so every rank runs the same number of collectives.
    comm->barrier();
    auto t0 = std::chrono::steady_clock::now();
    comm->allreduce_sum(buffer.data(), static_cast<int64_t>(buffer.size()));
    double one = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    comm->broadcast(&one, sizeof one, 0);
    const int iters = std::max(3, static_cast<int>(seconds_per_size / std::max(one, 1e-7)));
    comm->barrier();
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) comm->allreduce_sum(buffer.data(), static_cast<int64_t>(buffer.size()));
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
    const double algbw = bytes / t / 1e9, busbw = n > 1 ? algbw * 2.0 * (n - 1) / n : 0.0;
    if (comm->is_root()) {
      std::printf("%12lld %12.1f %12.3f %12.3f\n", static_cast<long long>(bytes), t * 1e6, algbw, busbw);
      std::printf("{\"bytes\": %lld, \"ranks\": %d, \"time_us\": %.2f, \"algbw_gbps\": %.4f, \"busbw_gbps\": %.4f}\n",
                  static_cast<long long>(bytes), n, t * 1e6, algbw, busbw);
    }
  }
  return 0;
}
