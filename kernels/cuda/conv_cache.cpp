// cuDNN descriptors and algorithm choice for one convolution call shape.
#include "kernels/cuda/conv_cache.h"

#include <algorithm>
#include <functional>
#include <vector>

namespace mt::cuda {
namespace {

std::array<int64_t, 4> four(const std::vector<int64_t>& v) { return {v[0], v[1], v[2], v[3]}; }

const char* layout_name(Layout l) { return l == Layout::nhwc ? "nhwc" : "nchw"; }

// NB: cudnnFind*AlgorithmEx reports the math type each result ran with, and the descriptor must
// carry a type the algorithm supports when it runs. Results that down-convert f32 to f16
// (ALLOW_CONVERSION) are never taken. Without TF32, a search over an FMA descriptor may still
// report DEFAULT_MATH for plain-f32 results (PyTorch meets the same and rewrites it), and DEFAULT
// would permit TF32 on Ampere and later: so those results are taken and run under FMA, which
// gives full f32 products.
bool math_allowed(cudnnMathType_t math, bool tf32) {
  if (math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
  return tf32 || math == CUDNN_FMA_MATH || math == CUDNN_DEFAULT_MATH;
}

cudnnMathType_t math_to_run(cudnnMathType_t reported, bool tf32) { return tf32 ? reported : CUDNN_FMA_MATH; }

// The fastest result that ran, fits the budget and keeps the precision asked for: cuDNN sorts the
// results by time, fastest first. Null, with the reasons in `why`, when there is none.
template <typename Perf>
const Perf* fastest(const std::vector<Perf>& perf, int returned, bool tf32, size_t budget,
                    std::string& why) {
  std::string tried;
  for (int i = 0; i < returned; ++i) {
    const Perf& p = perf[i];
    if (p.status == CUDNN_STATUS_SUCCESS && p.memory <= budget && math_allowed(p.mathType, tf32))
      return &p;
    tried += " algo " + std::to_string(static_cast<int>(p.algo)) + ": " +
             cudnnGetErrorString(p.status) + ", math " + std::to_string(static_cast<int>(p.mathType)) +
             ", " + std::to_string(p.memory) + " bytes;";
  }
  why = "no algorithm ran within " + std::to_string(budget) + " bytes of workspace" +
        (tf32 ? "" : " in plain f32 (FMA or default) math") + (tried.empty() ? " (none returned)" : ":" + tried);
  return nullptr;
}

bool search_failed(cudnnStatus_t status, const char* call, std::string& why) {
  if (status == CUDNN_STATUS_SUCCESS) return false;
  why = std::string(call) + ": " + cudnnGetErrorString(status);
  return true;
}

// The end of every pass's search: the fastest acceptable result becomes `algo`, the descriptor
// gets the math type it runs under, and `workspace` the larger of the result's reported memory
// and what `workspace_of(algo, &bytes)` (the pass's cudnnGet*WorkspaceSize) says.
template <typename Perf, typename Algo, typename WorkspaceOf>
bool adopt_fastest(const std::vector<Perf>& perf, int returned, bool tf32, size_t budget, std::string& why,
                   cudnnConvolutionDescriptor_t conv, Algo& algo, size_t& workspace, WorkspaceOf workspace_of) {
  const Perf* best = fastest(perf, returned, tf32, budget, why);
  if (!best) return false;
  algo = best->algo;
  MT_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, math_to_run(best->mathType, tf32)));
  size_t bytes = 0;
  if (workspace_of(algo, &bytes) != CUDNN_STATUS_SUCCESS) bytes = 0;
  workspace = std::max(best->memory, bytes);
  return true;
}

}  // namespace

const char* pass_name(ConvPass pass) {
  switch (pass) {
    case ConvPass::fwd: return "conv2d_fwd";
    case ConvPass::bwd_data: return "conv2d_bwd_data";
    case ConvPass::bwd_filter: return "conv2d_bwd_weights";
  }
  return "conv2d";
}

ConvKey conv_key(ConvPass pass, const Conv2dDesc& desc, const Tensor& x, const Tensor& w,
                 const Tensor& y, bool tf32) {
  ConvKey k;
  k.pass = pass;
  k.desc = desc;
  k.x_dims = four(x.shape().dims());
  k.x_strides = four(x.strides());
  k.w_dims = four(w.shape().dims());
  k.w_strides = four(w.strides());
  k.y_dims = four(y.shape().dims());
  k.y_strides = four(y.strides());
  k.tf32 = tf32;
  return k;
}

size_t ConvKeyHash::operator()(const ConvKey& k) const {
  size_t h = 0;
  const auto mix = [&h](int64_t v) {
    h ^= std::hash<int64_t>{}(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  };
  mix(static_cast<int64_t>(k.pass));
  const Conv2dDesc& d = k.desc;
  for (int v : {d.stride_h, d.stride_w, d.pad_h, d.pad_w, d.dilation_h, d.dilation_w, d.groups})
    mix(v);
  for (const auto* a : {&k.x_dims, &k.x_strides, &k.w_dims, &k.w_strides, &k.y_dims, &k.y_strides})
    for (int64_t v : *a) mix(v);
  mix(k.tf32);
  return h;
}

ConvPlan::ConvPlan() {
  try {
    MT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x_desc_));
    MT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y_desc_));
    MT_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w_desc_));
    MT_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv_desc_));
  } catch (...) {
    destroy();
    throw;
  }
}

ConvPlan::~ConvPlan() { destroy(); }

void ConvPlan::destroy() noexcept {
  if (conv_desc_) cudnnDestroyConvolutionDescriptor(conv_desc_);
  if (w_desc_) cudnnDestroyFilterDescriptor(w_desc_);
  if (y_desc_) cudnnDestroyTensorDescriptor(y_desc_);
  if (x_desc_) cudnnDestroyTensorDescriptor(x_desc_);
  conv_desc_ = nullptr;
  w_desc_ = nullptr;
  x_desc_ = y_desc_ = nullptr;
}

// The caller has checked that every size and stride fits in an int.
void ConvPlan::describe(const Conv2dDesc& d, const Tensor& x, const Tensor& w, const Tensor& y,
                        cudnnMathType_t math) {
  const auto set_tensor = [](cudnnTensorDescriptor_t desc, const Tensor& t) {
    const auto i = [](int64_t v) { return static_cast<int>(v); };
    MT_CUDNN_CHECK(cudnnSetTensor4dDescriptorEx(desc, CUDNN_DATA_FLOAT, i(t.dim(0)), i(t.dim(1)),
                                                i(t.dim(2)), i(t.dim(3)), i(t.stride(0)),
                                                i(t.stride(1)), i(t.stride(2)), i(t.stride(3))));
  };
  set_tensor(x_desc_, x);
  set_tensor(y_desc_, y);
  const cudnnTensorFormat_t format =
      filter_layout_ == Layout::nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
  MT_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w_desc_, CUDNN_DATA_FLOAT, format,
                                            static_cast<int>(w.dim(0)), static_cast<int>(w.dim(1)),
                                            static_cast<int>(w.dim(2)), static_cast<int>(w.dim(3))));
  MT_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv_desc_, d.pad_h, d.pad_w, d.stride_h,
                                                 d.stride_w, d.dilation_h, d.dilation_w,
                                                 CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  MT_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv_desc_, d.groups));
  MT_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_desc_, math));
}

bool ConvPlan::choose(cudnnHandle_t handle, ConvPass pass, const Conv2dDesc& desc,
                      const Tensor& x, const Tensor& w, const Tensor& y, bool tf32,
                      void* workspace, size_t budget, std::string& why) {
  pass_ = pass;
  layout_ = x.layout();
  filter_layout_ = w.layout();
  shapes_ = "x " + x.shape().str() + ", w " + w.shape().str() + ", y " + y.shape().str() + " (" +
            layout_name(layout_) + ", filter " + layout_name(filter_layout_) + ")";
  try {
    describe(desc, x, w, y, tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH);
  } catch (const BackendError& e) {
    why = e.what();
    return false;
  }
  const ConvBuffers b{x.raw(), w.raw(), y.raw()};
  switch (pass) {
    case ConvPass::fwd: return find_fwd(handle, b, tf32, workspace, budget, why);
    case ConvPass::bwd_data: return find_bwd_data(handle, b, tf32, workspace, budget, why);
    case ConvPass::bwd_filter: return find_bwd_filter(handle, b, tf32, workspace, budget, why);
  }
  return false;
}

bool ConvPlan::find_fwd(cudnnHandle_t handle, const ConvBuffers& b, bool tf32, void* ws,
                        size_t budget, std::string& why) {
  int count = 0;
  MT_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(std::max(count, 1));
  int returned = 0;
  if (search_failed(cudnnFindConvolutionForwardAlgorithmEx(
                        handle, x_desc_, b.x, w_desc_, b.w, conv_desc_, y_desc_, b.y, count,
                        &returned, perf.data(), ws, budget),
                    "cudnnFindConvolutionForwardAlgorithmEx", why))
    return false;
  return adopt_fastest(perf, returned, tf32, budget, why, conv_desc_, fwd_algo_, workspace_bytes_,
                       [&](auto algo, size_t* bytes) {
                         return cudnnGetConvolutionForwardWorkspaceSize(handle, x_desc_, w_desc_,
                                                    conv_desc_, y_desc_, algo, bytes);
                       });
}

bool ConvPlan::find_bwd_data(cudnnHandle_t handle, const ConvBuffers& b, bool tf32, void* ws,
                             size_t budget, std::string& why) {
  int count = 0;
  MT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &count));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(std::max(count, 1));
  int returned = 0;
  if (search_failed(cudnnFindConvolutionBackwardDataAlgorithmEx(
                        handle, w_desc_, b.w, y_desc_, b.y, conv_desc_, x_desc_, b.x, count,
                        &returned, perf.data(), ws, budget),
                    "cudnnFindConvolutionBackwardDataAlgorithmEx", why))
    return false;
  return adopt_fastest(perf, returned, tf32, budget, why, conv_desc_, bwd_data_algo_,
                       workspace_bytes_,
                       [&](auto algo, size_t* bytes) {
                         return cudnnGetConvolutionBackwardDataWorkspaceSize(handle, w_desc_, y_desc_,
                                                    conv_desc_, x_desc_, algo, bytes);
                       });
}

bool ConvPlan::find_bwd_filter(cudnnHandle_t handle, const ConvBuffers& b, bool tf32, void* ws,
                               size_t budget, std::string& why) {
  int count = 0;
  MT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &count));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(std::max(count, 1));
  int returned = 0;
  if (search_failed(cudnnFindConvolutionBackwardFilterAlgorithmEx(
                        handle, x_desc_, b.x, y_desc_, b.y, conv_desc_, w_desc_, b.w, count,
                        &returned, perf.data(), ws, budget),
                    "cudnnFindConvolutionBackwardFilterAlgorithmEx", why))
    return false;
  return adopt_fastest(perf, returned, tf32, budget, why, conv_desc_, bwd_filter_algo_,
                       workspace_bytes_,
                       [&](auto algo, size_t* bytes) {
                         return cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, x_desc_, y_desc_,
                                                    conv_desc_, w_desc_, algo, bytes);
                       });
}

void ConvPlan::run(cudnnHandle_t handle, const ConvBuffers& b, void* ws) const {
  const float one = 1.0f, zero = 0.0f;
  cudnnStatus_t status = CUDNN_STATUS_SUCCESS;
  int algo = 0;
  switch (pass_) {
    case ConvPass::fwd:
      algo = fwd_algo_;
      status = cudnnConvolutionForward(handle, &one, x_desc_, b.x, w_desc_, b.w, conv_desc_,
                                       fwd_algo_, ws, workspace_bytes_, &zero, y_desc_, b.y);
      break;
    case ConvPass::bwd_data:
      algo = bwd_data_algo_;
      status = cudnnConvolutionBackwardData(handle, &one, w_desc_, b.w, y_desc_, b.y, conv_desc_,
                                            bwd_data_algo_, ws, workspace_bytes_, &zero, x_desc_,
                                            b.x);
      break;
    case ConvPass::bwd_filter:
      algo = bwd_filter_algo_;
      status = cudnnConvolutionBackwardFilter(handle, &one, x_desc_, b.x, y_desc_, b.y, conv_desc_,
                                              bwd_filter_algo_, ws, workspace_bytes_, &zero,
                                              w_desc_, b.w);
      break;
  }
  MT_CHECK(status == CUDNN_STATUS_SUCCESS, BackendError, "[cuda ", pass_name(pass_), "] cuDNN algo ",
           algo, " for ", shapes_, ": ", cudnnGetErrorString(status));
}

ConvPlan* ConvCache::find(const ConvKey& key) {
  const auto it = plans_.find(key);
  return it == plans_.end() ? nullptr : it->second.get();
}

ConvPlan& ConvCache::insert(const ConvKey& key, std::unique_ptr<ConvPlan> plan) {
  if (plans_.size() >= kMaxPlans) plans_.clear();
  auto& slot = plans_[key];
  slot = std::move(plan);
  return *slot;
}

}  // namespace mt::cuda
