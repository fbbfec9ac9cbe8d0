#include "kernels/cpu/conv_winograd.h"

#include <oneapi/dnnl/dnnl.hpp>

namespace mt::cpu {

namespace {
bool& enabled() {
  static bool on = true;
  return on;
}
}  // namespace

bool winograd_enabled() { return enabled(); }
void set_winograd_enabled(bool on) { enabled() = on; }

bool winograd_available() {
  static const bool available = [] {
    using dnnl::memory;
    const memory::desc act({1, 32, 8, 8}, memory::data_type::f32, memory::format_tag::any);
    const memory::desc w({32, 32, 3, 3}, memory::data_type::f32, memory::format_tag::any);
    try {
      const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
      dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training,
                                        dnnl::algorithm::convolution_winograd, act, w, act, {1, 1},
                                        {1, 1}, {1, 1});
      dnnl::convolution_forward::primitive_desc pd(d, eng);
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return available;
}

bool winograd_applies(const Conv2dDesc& d, int64_t in_channels, int64_t out_channels,
                      int64_t kernel_h, int64_t kernel_w) {
  constexpr int64_t kBlock = 16, kMinChannels = 32;
  const bool shape = kernel_h == 3 && kernel_w == 3 && d.stride_h == 1 && d.stride_w == 1 &&
                     d.dilation_h == 1 && d.dilation_w == 1 && d.groups == 1 && d.pad_h <= 1 &&
                     d.pad_w <= 1;
  const bool channels = in_channels >= kMinChannels && out_channels >= kMinChannels &&
                        in_channels % kBlock == 0 && out_channels % kBlock == 0;
  return enabled() && shape && channels;
}

}  // namespace mt::cpu
