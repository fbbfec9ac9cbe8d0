#pragma once
// The kinds of op the engine knows. What a kind means to a pass (how its channels group, how it
// is reshaped, what it costs, how it is exported) lives in one row of that pass's table indexed
// by kind (morph/handlers/, tools/onnx_export_ops.cpp); names map to kinds here and only here.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mt {

enum class OpKind : uint8_t {
  conv2d,
  compactor,  // ResRep's 1x1 identity-initialised conv (core/ops/compactor.h)
  linear,
  batchnorm2d,
  relu,
  sigmoid,
  relu6,        // min(max(x, 0), 6): MobileNetV2 (ONNX Clip(0, 6))
  hardsigmoid,  // relu6(x + 3) / 6: PyTorch's, ONNX HardSigmoid(alpha 1/6, beta 0.5)
  hardswish,    // x * hardsigmoid(x): MobileNetV3
  dropout,
  gate,
  add,
  mul,
  concat,
  channel_pad,
  maxpool2d,
  avgpool2d,
  global_avgpool2d,
  flatten,
  softmax_cross_entropy,
  // An op defined outside the engine's op set (an experiment, a test). No table has a row for it,
  // so every pass refuses it by name (Op::kind_name) instead of guessing what it does.
  custom,
};

// Every kind of the engine's op set (custom excluded): what the completeness tests walk.
inline constexpr std::array<OpKind, 20> kAllOpKinds = {
    OpKind::conv2d,    OpKind::compactor, OpKind::linear,      OpKind::batchnorm2d,
    OpKind::relu,      OpKind::sigmoid,   OpKind::relu6,       OpKind::hardsigmoid,
    OpKind::hardswish, OpKind::dropout,   OpKind::gate,        OpKind::add,
    OpKind::mul,       OpKind::concat,    OpKind::channel_pad,
    OpKind::maxpool2d, OpKind::avgpool2d, OpKind::global_avgpool2d, OpKind::flatten,
    OpKind::softmax_cross_entropy};
inline constexpr size_t kNumOpKinds = static_cast<size_t>(OpKind::custom) + 1;

// "conv2d", "batchnorm2d", ...: the names of the YAML graph format, summaries and profiles.
std::string_view op_kind_name(OpKind kind);
// The kind of a name; nullopt for a name outside the op set ("custom" included).
std::optional<OpKind> op_kind_from_name(std::string_view name);

}  // namespace mt
