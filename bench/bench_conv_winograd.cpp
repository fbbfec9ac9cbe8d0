// Winograd convolutions against the direct algorithm, shape by shape, through the CPU backend's
// own calls (so the staging of activations into Winograd's blocked layout and back is included):
// forward, data gradient and weight gradient of ResNet-20's and ResNet-50's 3x3 stride-1 layers.
// The thresholds of kernels/cpu/conv_winograd.h come from here.
//   build/bench/bench_conv_winograd [--rounds 5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <CLI/CLI.hpp>

#include "kernels/cpu/conv_winograd.h"
#include "kernels/cpu/cpu_backend.h"

namespace {

struct Layer {
  int64_t batch, channels, size;
};

struct Operands {
  mt::Tensor x, w, y, dy, dx, dw;
};

Operands operands(const Layer& l) {
  using mt::DType, mt::Layout, mt::Tensor;
  const mt::Shape act{l.batch, l.channels, l.size, l.size}, weights{l.channels, l.channels, 3, 3};
  Operands o{Tensor::zeros(act, DType::f32, Layout::nhwc), Tensor::zeros(weights),
             Tensor::zeros(act, DType::f32, Layout::nhwc), Tensor::zeros(act, DType::f32, Layout::nhwc),
             Tensor::zeros(act, DType::f32, Layout::nhwc), Tensor::zeros(weights)};
  for (int64_t i = 0; i < o.x.numel(); ++i) o.x.data<float>()[i] = static_cast<float>(i % 7) * 0.1f;
  for (int64_t i = 0; i < o.dy.numel(); ++i) o.dy.data<float>()[i] = static_cast<float>(i % 3) * 0.1f;
  for (int64_t i = 0; i < o.w.numel(); ++i) o.w.data<float>()[i] = static_cast<float>(i % 5) * 0.01f;
  return o;
}

// Milliseconds for forward + both backwards, one call each after a warm-up call.
double step_ms(mt::CpuBackend& cpu, const mt::Conv2dDesc& d, Operands& o) {
  mt::Tensor no_bias;
  const auto t0 = std::chrono::steady_clock::now();
  cpu.conv2d_fwd(d, o.x, o.w, mt::Tensor(), o.y);
  cpu.conv2d_bwd_data(d, o.dy, o.w, o.dx);
  cpu.conv2d_bwd_weights(d, o.x, o.dy, o.dw, no_bias);
  return 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mt;
  CLI::App app{"Winograd against direct 3x3 convolutions, forward and both backwards"};
  int rounds = 5;
  app.add_option("--rounds", rounds, "alternating rounds per shape (median taken)")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  if (!cpu::winograd_available()) {
    std::printf("oneDNN has no Winograd kernel on this machine (it needs AVX-512)\n");
    return 0;
  }
  const std::vector<Layer> layers{{128, 16, 32}, {128, 32, 16}, {128, 64, 8},  {32, 32, 16},
                                  {32, 64, 56},  {32, 128, 28}, {32, 256, 14}, {32, 512, 7}};
  const Conv2dDesc d{1, 1, 1, 1};
  CpuBackend cpu;
  std::printf("%-26s %11s %11s %8s  %s\n", "3x3 conv (batch, C, HxW)", "direct ms", "Winograd ms", "speed-up",
              "Winograd");
  for (const Layer& l : layers) {
    Operands o = operands(l);
    std::vector<double> direct, wino;
    for (int r = 0; r <= rounds; ++r) {  // round 0 warms both up
      cpu::set_winograd_enabled(false);
      const double a = step_ms(cpu, d, o);
      cpu::set_winograd_enabled(true);
      const double b = step_ms(cpu, d, o);
      if (r > 0) direct.push_back(a), wino.push_back(b);
    }
    char name[64];
    std::snprintf(name, sizeof name, "%lld x %lld x %lldx%lld", static_cast<long long>(l.batch),
                  static_cast<long long>(l.channels), static_cast<long long>(l.size), static_cast<long long>(l.size));
    const bool taken = cpu::winograd_applies(d, l.channels, l.channels, 3, 3);
    std::printf("%-26s %11.2f %11.2f %7.2fx  %s\n", name, median(direct), median(wino), median(direct) / median(wino),
                taken ? "yes, where its scratchpad is small enough" : "no");
  }
  return 0;
}
