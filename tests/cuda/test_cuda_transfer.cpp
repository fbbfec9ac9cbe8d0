// Moving tensors between the host and the GPU with the CUDA backend's copy() (the one call allowed
// to cross devices): every layout pair, every rank, dtype conversion on the way, labels, empty
// tensors, a host source that changes right after the call, a model's whole state; and the
// backend's own description and its errors for tensors it cannot take.
#include "core/device_transfer.h"
#include "layers/zoo/model.h"
#include "tests/cuda/gpu_compare.h"

namespace mt::gputest {
namespace {

Tensor random_f32(const Shape& shape, Layout layout, uint64_t seed) {
  Rng rng(seed);
  return test::uniform(shape, rng, layout).to(DType::f32);
}

Tensor on_gpu(const Shape& shape, DType dtype, Layout layout) {
  return Tensor::empty(shape, dtype, layout, gpu().device());
}

// Copies src to the GPU in `gpu_layout`, then back into a host tensor laid out like it: when the
// layouts match, the way back is a plain transfer, so this also checks the GPU tensor's memory
// order, not merely that two transposes cancel.
void check_round_trip(const Tensor& src, Layout gpu_layout) {
  Tensor dev = on_gpu(src.shape(), src.dtype(), gpu_layout);
  gpu().copy(src, dev);
  for (Layout host_layout : {Layout::nchw, Layout::nhwc}) {
    if (host_layout == Layout::nhwc && src.rank() != 4) continue;
    Tensor back = Tensor::empty(src.shape(), src.dtype(), host_layout);
    back.fill(-7);
    gpu().copy(dev, back);
    INFO(src.shape().str() << " host " << test::layout_name(src.layout()) << " -> gpu "
                           << test::layout_name(gpu_layout) << " -> host "
                           << test::layout_name(host_layout));
    CHECK(max_rel_diff(back, src) == 0);
  }
}

}  // namespace

TEST_CASE("cuda backend describes itself", "[cuda]") {
  CHECK(gpu().name() == "cuda");
  CHECK(gpu().device() == Device::cuda(0));
  CHECK(gpu().activation_layout() == Layout::nhwc);
  CHECK(gpu().supports(DType::f32));
  CHECK_FALSE(gpu().supports(DType::f64));
}

TEST_CASE("cuda copy moves f32 tensors host to GPU and back in every layout", "[cuda][copy]") {
  for (Layout host : {Layout::nchw, Layout::nhwc})
    for (Layout dev : {Layout::nchw, Layout::nhwc})
      check_round_trip(random_f32({3, 5, 7, 9}, host, 1), dev);
  check_round_trip(random_f32({2, 17, 1, 1}, Layout::nhwc, 2), Layout::nchw);
  check_round_trip(random_f32({5, 17}, Layout::nchw, 3), Layout::nchw);
  check_round_trip(random_f32({37}, Layout::nchw, 4), Layout::nchw);
  check_round_trip(random_f32({}, Layout::nchw, 5), Layout::nchw);
  check_round_trip(random_f32({0, 5, 3, 3}, Layout::nhwc, 6), Layout::nchw);
}

TEST_CASE("cuda copy moves labels and converts f64 on the host side", "[cuda][copy]") {
  const Tensor labels_host = labels({3, 0, 9, 1, 1ll << 40, -5});
  check_round_trip(labels_host, Layout::nchw);

  // f64 host -> f32 GPU rounds like Tensor::to; f32 GPU -> f64 host is exact.
  Rng rng(11);
  const Tensor x64 = test::uniform({3, 5, 7, 9}, rng, Layout::nchw);
  Tensor dev = on_gpu(x64.shape(), DType::f32, Layout::nhwc);
  gpu().copy(x64, dev);
  Tensor back = Tensor::empty(x64.shape(), DType::f64, Layout::nchw);
  gpu().copy(dev, back);
  CHECK(max_rel_diff(back, x64.to(DType::f32)) == 0);
  CHECK(max_rel_diff(back, x64) > 0);  // it did round
}

TEST_CASE("cuda copy leaves the host source free as soon as it returns", "[cuda][copy]") {
  // Large enough to outgrow any first staging buffer, then a small one through the same buffer.
  for (const Shape& shape : {Shape{1 << 22}, Shape{3, 5, 7, 9}, Shape{1 << 22}}) {
    Tensor host = random_f32(shape, Layout::nchw, 21);
    const Tensor first = host.clone();
    Tensor a = on_gpu(shape, DType::f32, Layout::nchw), b = on_gpu(shape, DType::f32, Layout::nchw);
    gpu().copy(host, a);
    host.fill(3);  // no sync in between: the upload must not read host memory later
    gpu().copy(host, b);
    host.fill(-1);
    INFO(shape.str());
    CHECK(max_rel_diff(to_host(a, gpu()), first) == 0);
    Tensor threes = Tensor::empty(shape);
    threes.fill(3);
    CHECK(max_rel_diff(to_host(b, gpu()), threes) == 0);
  }
}

TEST_CASE("move_state_to puts a model's float state on the GPU and back unchanged",
          "[cuda][copy]") {
  layers::ModelOptions o;
  o.in_channels = 1;
  o.image_size = 28;
  layers::Model model = layers::build_model("resnet20", o);
  NamedTensors before;
  for (const auto& [name, t] : model.graph.state_dict()) before.emplace_back(name, t.clone());

  move_state_to(model.graph, gpu());
  int on_device = 0, on_host = 0;
  for (const auto& [name, t] : model.graph.state_dict()) {
    INFO(name);
    const bool is_float = t.dtype() != DType::i64;
    CHECK(t.device() == (is_float ? gpu().device() : Device::cpu()));
    on_device += is_float;
    on_host += !is_float;
  }
  CHECK(on_device > 0);
  CHECK(on_host > 0);  // num_batches_tracked: bookkeeping that stays on the host

  move_state_to_host(model.graph, gpu());
  const NamedTensors after = model.graph.state_dict();
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    INFO(after[i].first);
    CHECK(after[i].second.device() == Device::cpu());
    CHECK(max_rel_diff(after[i].second, before[i].second) == 0);
  }
}

TEST_CASE("cuda ops reject host tensors and f64 naming the op", "[cuda]") {
  const Tensor host_x = Tensor::zeros({1, 2, 3, 3});
  Tensor host_y = Tensor::zeros({1, 2, 3, 3});
  CHECK_THROWS_WITH(gpu().relu_fwd(host_x, host_y), Catch::Contains("relu_fwd"));
  CHECK_THROWS_AS(gpu().relu_fwd(host_x, host_y), BackendError);
  const Tensor x64 = on_gpu({1, 2, 3, 3}, DType::f64, Layout::nchw);
  Tensor y64 = on_gpu({1, 2, 3, 3}, DType::f64, Layout::nchw);
  CHECK_THROWS_WITH(gpu().relu_fwd(x64, y64),
                    Catch::Contains("relu_fwd") && Catch::Contains("f64"));
  const Tensor w = on_gpu({4, 2, 3, 3}, DType::f32, Layout::nchw);
  Tensor y = on_gpu({1, 4, 1, 1}, DType::f32, Layout::nhwc), none;
  CHECK_THROWS_AS(gpu().conv2d_fwd({}, host_x, w, none, y), BackendError);
}

}  // namespace mt::gputest
