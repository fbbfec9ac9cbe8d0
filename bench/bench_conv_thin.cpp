// Thin convolutions against oneDNN, shape by shape, in one run (alternating): where the direct
// kernels of kernels/cpu/conv_thin.h win, and so where their thresholds lie.
//   build/bench/bench_conv_thin [--batch 128]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "kernels/cpu/conv_thin.h"
#include "kernels/cpu/cpu_backend.h"

namespace {

struct Shape4 {
  int64_t c, o, hw, k, stride;
};

// Milliseconds per call, the median of 5 timed bursts of ~0.1 s.
double time_ms(mt::CpuBackend& cpu, const mt::Conv2dDesc& d, const mt::Tensor& x, const mt::Tensor& w,
               const mt::Tensor& b, mt::Tensor& y) {
  cpu.conv2d_fwd(d, x, w, b, y);
  std::vector<double> bursts;
  for (int r = 0; r < 5; ++r) {
    int calls = 0;
    const auto t0 = std::chrono::steady_clock::now();
    double s = 0;
    do {
      cpu.conv2d_fwd(d, x, w, b, y);
      ++calls;
      s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (s < 0.1);
    bursts.push_back(1e3 * s / calls);
  }
  std::sort(bursts.begin(), bursts.end());
  return bursts[2];
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mt;
  CLI::App app{"thin convolution kernels against oneDNN"};
  int64_t batch = 128;
  app.add_option("--batch", batch, "batch size");
  CLI11_PARSE(app, argc, argv);
  const std::vector<Shape4> shapes{
      {16, 1, 28, 3, 1},  {16, 4, 28, 3, 1},  {16, 8, 28, 3, 1},  {16, 12, 28, 3, 1}, {16, 16, 28, 3, 1},
      {32, 4, 14, 3, 1},  {32, 8, 14, 3, 1},  {32, 11, 14, 3, 1}, {32, 16, 14, 3, 1}, {64, 8, 7, 3, 1},
      {64, 16, 7, 3, 1},  {1, 16, 28, 3, 1},  {4, 16, 28, 3, 1},  {8, 16, 28, 3, 1},  {12, 16, 28, 3, 1},
      {8, 32, 14, 3, 1},  {11, 32, 14, 3, 1}, {16, 32, 14, 3, 1}, {16, 64, 7, 3, 1},  {32, 64, 7, 3, 1},
      {16, 8, 28, 3, 2},  {8, 32, 28, 3, 2},  {1, 4, 28, 3, 1},  {4, 1, 28, 3, 1},  {1, 1, 28, 3, 1},
      {4, 4, 28, 3, 1},   {8, 8, 28, 3, 1},   {2, 5, 14, 3, 1},   {8, 8, 7, 3, 1},
      // Image stems: CIFAR's 3x3 and ImageNet's (ResNet's 7x7 stride 2, MobileNet's 3x3 stride 2).
      {3, 16, 32, 3, 1},  {3, 64, 32, 3, 1},  {3, 32, 112, 3, 2}, {3, 64, 112, 7, 2}, {3, 64, 224, 7, 2}};
  CpuBackend cpu;
  std::printf("%-28s %10s %10s %8s\n", "conv (3x3 unless k)", "oneDNN ms", "thin ms", "speed-up");
  for (const Shape4& s : shapes) {
    const Conv2dDesc d{static_cast<int>(s.stride), static_cast<int>(s.stride), static_cast<int>(s.k / 2),
                       static_cast<int>(s.k / 2)};
    const int64_t out = (s.hw + 2 * (s.k / 2) - s.k) / s.stride + 1;
    Tensor x = Tensor::zeros({batch, s.c, s.hw, s.hw}, DType::f32, Layout::nhwc);
    Tensor w = Tensor::zeros({s.o, s.c, s.k, s.k});
    Tensor b = Tensor::zeros({s.o});
    Tensor y = Tensor::zeros({batch, s.o, out, out}, DType::f32, Layout::nhwc);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i % 7) * 0.1f;
    for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = static_cast<float>(i % 5) * 0.01f;
    cpu::set_thin_conv_enabled(false);
    const double onednn = time_ms(cpu, d, x, w, b, y);
    cpu::set_thin_conv_enabled(true);
    const bool thin = cpu::thin_conv_applies(d, x, w, y);
    const double direct = thin ? time_ms(cpu, d, x, w, b, y) : 0;
    char name[64];
    std::snprintf(name, sizeof name, "%lld -> %lld at %lldx%lld /%lld%s", static_cast<long long>(s.c),
                  static_cast<long long>(s.o), static_cast<long long>(s.hw), static_cast<long long>(s.hw),
                  static_cast<long long>(s.stride), s.k == 3 ? "" : (" k" + std::to_string(s.k)).c_str());
    if (thin)
      std::printf("%-28s %10.3f %10.3f %7.2fx\n", name, onednn, direct, onednn / direct);
    else
      std::printf("%-28s %10.3f %10s %8s\n", name, onednn, "-", "-");
  }
  return 0;
}
