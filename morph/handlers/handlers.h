#pragma once
// The handler of each op family (one file each in this folder); handler_table.cpp puts them in
// the table indexed by OpKind.
#include "morph/handlers/op_handler.h"

namespace mt::morph {

const OpHandler& conv_handler();
const OpHandler& compactor_handler();
const OpHandler& linear_handler();
const OpHandler& batchnorm_handler();
const OpHandler& relu_handler();
const OpHandler& sigmoid_handler();
const OpHandler& relu6_handler();
const OpHandler& hardsigmoid_handler();
const OpHandler& hardswish_handler();
const OpHandler& dropout_handler();
const OpHandler& gate_handler();
const OpHandler& add_handler();
const OpHandler& mul_handler();
const OpHandler& concat_handler();
const OpHandler& channel_pad_handler();
const OpHandler& maxpool_handler();
const OpHandler& avgpool_handler();
const OpHandler& global_avgpool_handler();
const OpHandler& flatten_handler();
const OpHandler& boundary_handler();

}  // namespace mt::morph
