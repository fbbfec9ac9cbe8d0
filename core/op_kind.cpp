#include "core/op_kind.h"

namespace mt {

namespace {

struct KindName {
  OpKind kind;
  std::string_view name;
};

// One row per kind, in enum order (op_kind_name indexes it).
constexpr std::array<KindName, kNumOpKinds> kNames = {{
    {OpKind::conv2d, "conv2d"},
    {OpKind::compactor, "compactor"},
    {OpKind::linear, "linear"},
    {OpKind::batchnorm2d, "batchnorm2d"},
    {OpKind::relu, "relu"},
    {OpKind::sigmoid, "sigmoid"},
    {OpKind::relu6, "relu6"},
    {OpKind::hardsigmoid, "hardsigmoid"},
    {OpKind::hardswish, "hardswish"},
    {OpKind::dropout, "dropout"},
    {OpKind::gate, "gate"},
    {OpKind::add, "add"},
    {OpKind::mul, "mul"},
    {OpKind::concat, "concat"},
    {OpKind::channel_pad, "channel_pad"},
    {OpKind::maxpool2d, "maxpool2d"},
    {OpKind::avgpool2d, "avgpool2d"},
    {OpKind::global_avgpool2d, "global_avgpool2d"},
    {OpKind::flatten, "flatten"},
    {OpKind::softmax_cross_entropy, "softmax_cross_entropy"},
    {OpKind::custom, "custom"},
}};

constexpr bool rows_in_enum_order() {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (static_cast<size_t>(kNames[i].kind) != i) return false;
  return true;
}
static_assert(rows_in_enum_order(), "kNames must list the kinds in enum order");

}  // namespace

std::string_view op_kind_name(OpKind kind) {
  const auto i = static_cast<size_t>(kind);
  return i < kNames.size() ? kNames[i].name : "invalid";
}

std::optional<OpKind> op_kind_from_name(std::string_view name) {
  for (const KindName& row : kNames)
    if (row.name == name && row.kind != OpKind::custom) return row.kind;
  return std::nullopt;
}

}  // namespace mt
