#pragma once
// The ONNX messages a CNN export needs, as Debian's libonnx generates them from onnx.proto
// (the same classes the importer reads, layers/onnx_import.h), built by small helpers so that
// the emitters read as the graph they write.
#include <cstdint>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

namespace mt::tools::onnx {

using Attribute = ::onnx::AttributeProto;

// A dimension of a ValueInfoProto's shape: a fixed size, or a symbolic name ("batch").
struct Dim {
  int64_t value = 0;
  std::string param;  // non-empty: symbolic, value ignored
};

// TensorProto with its values in raw_data (little-endian, as ONNX requires on every platform).
::onnx::TensorProto tensor(const std::string& name, const std::vector<int64_t>& dims,
                           const std::vector<float>& values);
::onnx::TensorProto tensor(const std::string& name, const std::vector<int64_t>& dims,
                           const std::vector<int64_t>& values);

// AttributeProto of each type morphtrain emits.
Attribute attr_int(const std::string& name, int64_t value);
Attribute attr_ints(const std::string& name, const std::vector<int64_t>& values);
Attribute attr_float(const std::string& name, float value);
Attribute attr_string(const std::string& name, const std::string& value);

::onnx::NodeProto node(const std::string& op_type, const std::string& name, const std::vector<std::string>& inputs,
                       const std::vector<std::string>& outputs, const std::vector<Attribute>& attributes = {});

// A float tensor's ValueInfoProto.
::onnx::ValueInfoProto value_info(const std::string& name, const std::vector<Dim>& dims);

}  // namespace mt::tools::onnx
