#pragma once
// cuDNN convolution plans cached per call shape: the descriptors of one call and the algorithm
// chosen for it by benchmarking on the first call (PyTorch's cudnn.benchmark = True), so a
// steady-state step creates no descriptor and runs no search. The reshaper changes shapes, so
// the cache is bounded: past kMaxPlans it starts over.
//
// NB: cuDNN 9 marks the whole legacy convolution API (cudnn_cnn.h) CUDNN_DEPRECATED, though it
// still works and only warns under CUDNN_WARN_DEPRECATED. Its replacement is the graph API.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/backend.h"
#include "kernels/cuda/cuda_check.h"

namespace mt::cuda {

// The three passes, each a cuDNN call over x [N, C, H, W], w [O, C/g, kH, kW], y [N, O, OH, OW]
// in the forward's roles: fwd writes y, bwd_data writes x (dx from dy), bwd_filter writes w.
enum class ConvPass : uint8_t { fwd, bwd_data, bwd_filter };

const char* pass_name(ConvPass pass);

// Everything the descriptors and the algorithm choice depend on: the caller's shapes and strides
// (strides fix the layouts the call runs in), the hyper-parameters and the math type.
struct ConvKey {
  ConvPass pass = ConvPass::fwd;
  Conv2dDesc desc;
  std::array<int64_t, 4> x_dims{}, x_strides{}, w_dims{}, w_strides{}, y_dims{}, y_strides{};
  bool tf32 = false;
  bool operator==(const ConvKey&) const = default;
};

ConvKey conv_key(ConvPass pass, const Conv2dDesc& desc, const Tensor& x, const Tensor& w,
                 const Tensor& y, bool tf32);

struct ConvKeyHash {
  size_t operator()(const ConvKey& k) const;
};

// Device pointers of one call in the forward's roles; the pass's output is written.
struct ConvBuffers {
  void* x;
  void* w;
  void* y;
};

// One call's descriptors (owned) and chosen algorithm. The tensors a plan runs on are all in
// `layout` (activations) and `filter_layout` (OIHW as nchw, OHWI/KRSC as nhwc).
class ConvPlan {
 public:
  ConvPlan();
  ~ConvPlan();
  ConvPlan(const ConvPlan&) = delete;
  ConvPlan& operator=(const ConvPlan&) = delete;

  // Describes x, w and y (already in the layouts named) and benchmarks every algorithm of the
  // pass on them within `budget` bytes of `workspace` (host-blocking, first call only). False,
  // with `why` set, when none ran: the caller may try other layouts.
  bool choose(cudnnHandle_t handle, ConvPass pass, const Conv2dDesc& desc, const Tensor& x,
              const Tensor& w, const Tensor& y, bool tf32, void* workspace, size_t budget,
              std::string& why);
  // Runs the chosen algorithm (asynchronous, on the handle's stream); `workspace` holds at least
  // workspace_bytes().
  void run(cudnnHandle_t handle, const ConvBuffers& buffers, void* workspace) const;

  ConvPass pass() const { return pass_; }
  Layout layout() const { return layout_; }
  Layout filter_layout() const { return filter_layout_; }
  size_t workspace_bytes() const { return workspace_bytes_; }

 private:
  void destroy() noexcept;
  void describe(const Conv2dDesc& desc, const Tensor& x, const Tensor& w, const Tensor& y,
                cudnnMathType_t math);
  bool find_fwd(cudnnHandle_t handle, const ConvBuffers& b, bool tf32, void* ws, size_t budget,
                std::string& why);
  bool find_bwd_data(cudnnHandle_t handle, const ConvBuffers& b, bool tf32, void* ws,
                     size_t budget, std::string& why);
  bool find_bwd_filter(cudnnHandle_t handle, const ConvBuffers& b, bool tf32, void* ws,
                       size_t budget, std::string& why);

  cudnnTensorDescriptor_t x_desc_ = nullptr, y_desc_ = nullptr;
  cudnnFilterDescriptor_t w_desc_ = nullptr;
  cudnnConvolutionDescriptor_t conv_desc_ = nullptr;
  ConvPass pass_ = ConvPass::fwd;
  Layout layout_ = Layout::nchw, filter_layout_ = Layout::nchw;
  cudnnConvolutionFwdAlgo_t fwd_algo_{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_algo_{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo_{};
  size_t workspace_bytes_ = 0;
  std::string shapes_;  // "x [..] w [..] y [..] (nhwc, filter nhwc)" for error messages
};

// Not thread-safe: a backend, and so its cache, serves one thread (data parallelism runs one
// process per GPU).
class ConvCache {
 public:
  static constexpr size_t kMaxPlans = 1024;

  ConvPlan* find(const ConvKey& key);
  // Takes over a chosen plan; may drop every other plan first (the bound).
  ConvPlan& insert(const ConvKey& key, std::unique_ptr<ConvPlan> plan);
  size_t size() const { return plans_.size(); }

 private:
  std::unordered_map<ConvKey, std::unique_ptr<ConvPlan>, ConvKeyHash> plans_;
};

}  // namespace mt::cuda
