#include <array>

#include "morph/handlers/handlers.h"

namespace mt::morph {

namespace {

struct Row {
  OpKind kind;
  const OpHandler& (*handler)();
};

// One row per kind of the op set. OpKind::custom has none: an op morph knows nothing about is
// refused by name rather than guessed at.
constexpr Row kRows[] = {
    {OpKind::conv2d, conv_handler},
    {OpKind::compactor, compactor_handler},
    {OpKind::linear, linear_handler},
    {OpKind::batchnorm2d, batchnorm_handler},
    {OpKind::relu, relu_handler},
    {OpKind::sigmoid, sigmoid_handler},
    {OpKind::relu6, relu6_handler},
    {OpKind::hardsigmoid, hardsigmoid_handler},
    {OpKind::hardswish, hardswish_handler},
    {OpKind::dropout, dropout_handler},
    {OpKind::gate, gate_handler},
    {OpKind::add, add_handler},
    {OpKind::mul, mul_handler},
    {OpKind::concat, concat_handler},
    {OpKind::channel_pad, channel_pad_handler},
    {OpKind::maxpool2d, maxpool_handler},
    {OpKind::avgpool2d, avgpool_handler},
    {OpKind::global_avgpool2d, global_avgpool_handler},
    {OpKind::flatten, flatten_handler},
    {OpKind::softmax_cross_entropy, boundary_handler},
};

std::array<const OpHandler*, kNumOpKinds> build_table() {
  std::array<const OpHandler*, kNumOpKinds> table{};
  for (const Row& row : kRows) table[static_cast<size_t>(row.kind)] = &row.handler();
  return table;
}

}  // namespace

const OpHandler* find_handler(OpKind kind) {
  static const std::array<const OpHandler*, kNumOpKinds> table = build_table();
  const auto i = static_cast<size_t>(kind);
  return i < table.size() ? table[i] : nullptr;
}

const OpHandler& handler_for(const Graph& g, int node) {
  const Node& n = g.node(node);
  const OpHandler* h = find_handler(n.op->kind());
  MT_CHECK(h, ShapeError, "cannot handle op '", n.name, "' of kind ", n.op->kind_name(),
           ": structure learning has no handler for it (morph/handlers/ lists the kinds it knows)");
  return *h;
}

}  // namespace mt::morph
