// The NCCL communicator on one GPU: a job of one process (NCCL refuses two ranks on one GPU, and
// the multi-GPU case needs a machine with several). It checks what one GPU can: the communicator
// joins, its collectives on device memory run on their own stream after the compute stream's
// kernels and leave the sum of one rank (the values themselves), and handles behave.
#if MORPHTRAIN_HAVE_NCCL
#include <catch2/catch.hpp>
#include <vector>

#include "core/device_transfer.h"
#include "tests/cuda/gpu_compare.h"
#include "trainers/nccl_communicator.h"

namespace mt::gputest {

namespace {

CudaBackend& cuda_backend() {
  auto* cuda = dynamic_cast<CudaBackend*>(&gpu());
  REQUIRE(cuda);
  return *cuda;
}

// A device tensor of `n` values i * step, written by a kernel on the compute stream (fill and
// an in-place scale), so that a collective which did not wait for that stream could see old bytes.
Tensor device_ramp(int64_t n, double step) {
  Tensor host = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) host.data<float>()[i] = static_cast<float>(i);
  Tensor device = Tensor::empty({n}, DType::f32, Layout::nchw, gpu().device());
  gpu().copy(host, device);
  gpu().scale_inplace(device, step);
  return device;
}

}  // namespace

TEST_CASE("nccl communicator of one process: sums, background sums and broadcast on the GPU", "[cuda][nccl]") {
  NcclCommunicator nccl(single_process(), cuda_backend(), CommunicatorOptions{30});
  CHECK(nccl.name() == "nccl");
  CHECK(nccl.size() == 1);
  CHECK(nccl.device() == gpu().device());

  const int64_t n = 1 << 20;  // large enough that a copy racing the scale would show
  Tensor a = device_ramp(n, 0.5);
  nccl.allreduce_sum(a.data<float>(), n);
  Tensor host = to_host(a, gpu());
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; ++i) wrong += host.data<float>()[i] != static_cast<float>(0.5 * static_cast<double>(i));
  CHECK(wrong == 0);

  Tensor b = device_ramp(n, 2.0);
  const PendingCollective pending = nccl.start_allreduce_sum(b.data<float>(), n);
  CHECK(pending.id >= 0);
  nccl.wait(pending);
  CHECK_THROWS_WITH(nccl.wait(pending), Catch::Contains("waited on twice"));
  host = to_host(b, gpu());
  CHECK(host.data<float>()[n - 1] == static_cast<float>(2.0 * static_cast<double>(n - 1)));

  Tensor c = device_ramp(1000, 1.0);
  nccl.broadcast(c.raw(), static_cast<int64_t>(c.nbytes()), 0);
  CHECK(to_host(c, gpu()).data<float>()[999] == 999.0f);
  CHECK_THROWS_WITH(nccl.broadcast(c.raw(), 4, 1), Catch::Contains("root 1"));

  // Empty sums are allowed and still hand back a handle to wait on.
  nccl.wait(nccl.start_allreduce_sum(a.data<float>(), 0));
}

}  // namespace mt::gputest
#endif
