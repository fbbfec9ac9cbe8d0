#pragma once
// Builders that add ops and named parameters to a graph, PyTorch-style: `conv2d("layer1.0.conv1",
// x, 16, 3)` creates the parameter `layer1.0.conv1.weight` and the node `layer1.0.conv1`. The
// builder tracks the shape of every value for one sample (batch 1), so a layer knows its input
// channels and a summary knows every output shape.
#include <map>
#include <string>
#include <vector>

#include "core/graph.h"
#include "core/random.h"

namespace mt::layers {

// A window size, stride, padding or dilation along height and width: one number for both (3),
// as PyTorch's int arguments, or two ({7, 5}).
struct Size2d {
  int h = 0, w = 0;
  Size2d(int both = 0) : h(both), w(both) {}  // NOLINT: implicit, as PyTorch takes an int
  Size2d(int height, int width) : h(height), w(width) {}
  bool operator==(const Size2d&) const = default;
};

struct ConvOptions {
  Size2d stride = 1;
  Size2d padding = 0;
  Size2d dilation = 1;
  int groups = 1;
  bool bias = false;
};

struct PoolOptions {
  Size2d stride = -1;  // -1: the kernel size, as PyTorch
  Size2d padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
};

// FiGS gating (arXiv 2006.09581): a learned per-channel gate after each prunable layer. The
// defaults are morph-net's LogisticSigmoidGating: temperature 0.001, log odds 2.5 (92% open).
struct GatingOptions {
  bool enabled = false;
  double temperature = 0.001;
  double init_logit = 2.5;
  bool keep_first_channel = true;  // channel 0 always open (morph-net's keep_first_channel_alive)
};

class ModelBuilder {
 public:
  ModelBuilder(Graph& graph, uint64_t seed, DType dtype = DType::f32);

  ValueId input(const std::string& name, const Shape& sample_shape);
  ValueId labels(const std::string& name = "labels");

  ValueId conv2d(const std::string& name, ValueId x, int64_t out_channels, Size2d kernel,
                 const ConvOptions& o = {});
  ValueId batchnorm2d(const std::string& name, ValueId x, double eps = 1e-5, double momentum = 0.1);
  ValueId relu(const std::string& name, ValueId x);
  ValueId sigmoid(const std::string& name, ValueId x);
  // MobileNet's activations (PyTorch's definitions): min(max(x, 0), 6), relu6(x + 3) / 6 and
  // x * relu6(x + 3) / 6.
  ValueId relu6(const std::string& name, ValueId x);
  ValueId hardsigmoid(const std::string& name, ValueId x);
  ValueId hardswish(const std::string& name, ValueId x);
  ValueId linear(const std::string& name, ValueId x, int64_t out_features, bool bias = true);
  ValueId maxpool2d(const std::string& name, ValueId x, Size2d kernel, const PoolOptions& o = {});
  ValueId avgpool2d(const std::string& name, ValueId x, Size2d kernel, const PoolOptions& o = {});
  ValueId global_avgpool2d(const std::string& name, ValueId x);
  ValueId flatten(const std::string& name, ValueId x);
  ValueId add(const std::string& name, ValueId a, ValueId b);
  ValueId mul(const std::string& name, ValueId a, ValueId b);
  ValueId concat(const std::string& name, const std::vector<ValueId>& xs);
  ValueId channel_pad(const std::string& name, ValueId x, int64_t pad_before, int64_t pad_after,
                      int stride);
  ValueId dropout(const std::string& name, ValueId x, double p);
  ValueId cross_entropy(const std::string& name, ValueId logits, ValueId labels,
                        double label_smoothing = 0);
  // A FiGS gate on x ([1, C, H, W] or [1, C]) with the parameter `<name>.logits` [C], every logit
  // `init_logit`. x must not be a gate's output already.
  ValueId gate(const std::string& name, ValueId x, double temperature = 0.001,
               double init_logit = 2.5, bool keep_first_channel = true);

  // With gating enabled, batchnorm2d() on a conv's output appends that conv's gate,
  // `<conv name>.gate`, and returns the gate's output: every zoo model gates each conv after its
  // batch norm, before the activation or residual add. Hidden linear layers the model gates itself
  // (gate_hidden), as only it knows which linear gives the logits.
  void set_gating(const GatingOptions& g) { gating_ = g; }
  const GatingOptions& gating() const { return gating_; }
  // `<layer>.gate` on x when gating is enabled, else x unchanged.
  ValueId gate_hidden(const std::string& layer, ValueId x);

  // A ResRep compactor on x ([1, C, H, W]): a 1x1 conv without bias, the parameter
  // `<name>.weight` [C, C, 1, 1] initialised to the identity (core/ops/compactor.h).
  ValueId compactor(const std::string& name, ValueId x);
  // With compactors enabled, batchnorm2d() on the output of a conv with groups 1 appends that
  // conv's compactor, `<conv name>.compactor`, and returns its output (the gating rule; a
  // depthwise or grouped conv gets none: a dense C x C matrix cannot be folded into it).
  void set_compactors(bool enabled) { compactors_ = enabled; }
  bool compactors() const { return compactors_; }

  // Adds a node whose op the caller built (the YAML graph format uses this for every op).
  ValueId node(const std::string& name, OpPtr op, const std::vector<ValueId>& inputs);

  // The shape of a value for one sample, with the batch dimension 1: [1, C, H, W] or [1, K].
  const Shape& shape(ValueId v) const { return shapes_.at(v); }
  int64_t channels(ValueId v) const { return shape(v)[1]; }
  Graph& graph() { return graph_; }
  Rng& rng() { return rng_; }
  DType dtype() const { return dtype_; }

 private:
  Tensor new_tensor(const Shape& shape) const;
  ValueId param(const std::string& name, Tensor t);

  Graph& graph_;
  Rng rng_;
  DType dtype_;
  GatingOptions gating_;
  bool compactors_ = false;
  std::map<ValueId, Shape> shapes_;
};

// PyTorch's initialisations, in the builder's dtype.
void init_kaiming_normal_fan_out(Tensor& w, Rng& rng);       // torchvision convs (ReLU gain)
void init_uniform(Tensor& t, double bound, Rng& rng);         // nn.Linear / nn.Conv2d defaults

}  // namespace mt::layers
