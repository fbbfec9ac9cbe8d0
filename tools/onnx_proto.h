#pragma once
// The few ONNX messages a CNN export needs, encoded by hand on top of ProtobufWriter (field numbers
// from onnx.proto, notes/ecosystem.md section 3.1). No protobuf dependency, no generated code.
#include <cstdint>
#include <string>
#include <vector>

#include "trainers/protobuf_writer.h"

namespace mt::tools::onnx {

// TensorProto.DataType values.
enum class ElemType : int { f32 = 1, i64 = 7 };

// A dimension of a ValueInfoProto's shape: a fixed size, or a symbolic name ("batch").
struct Dim {
  int64_t value = 0;
  std::string param;  // non-empty: symbolic, value ignored
};

// TensorProto with its values in raw_data (little-endian, as ONNX requires on every platform).
ProtobufWriter tensor(const std::string& name, const std::vector<int64_t>& dims,
                      const std::vector<float>& values);
ProtobufWriter tensor(const std::string& name, const std::vector<int64_t>& dims,
                      const std::vector<int64_t>& values);

// AttributeProto of each type morphtrain emits.
ProtobufWriter attr_int(const std::string& name, int64_t value);
ProtobufWriter attr_ints(const std::string& name, const std::vector<int64_t>& values);
ProtobufWriter attr_float(const std::string& name, float value);
ProtobufWriter attr_string(const std::string& name, const std::string& value);

ProtobufWriter node(const std::string& op_type, const std::string& name,
                    const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
                    const std::vector<ProtobufWriter>& attributes = {});

ProtobufWriter value_info(const std::string& name, ElemType type, const std::vector<Dim>& dims);

// OperatorSetIdProto of the default domain (ai.onnx).
ProtobufWriter opset(int64_t version);
// StringStringEntryProto (ModelProto.metadata_props).
ProtobufWriter string_entry(const std::string& key, const std::string& value);

}  // namespace mt::tools::onnx
